// SPDX-License-Identifier: MIT
// Copyright (c) 2026 The mproc authors
// queue_boost.cpp: the Boost.Interprocess message_queue peer of
// bench/queue.c. `queue_boost NP NC SIZE COUNT DEPTH` runs NP producer and
// NC consumer processes, released together, passing COUNT messages of SIZE
// bytes through a queue of DEPTH messages, and prints nanoseconds per
// message. `queue_boost --instr N` does N put+get pairs of 64 B in one
// process, for counting instructions.
#include <boost/interprocess/ipc/message_queue.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

namespace bip = boost::interprocess;

static double now()
{
    using namespace std::chrono;
    return duration<double>(steady_clock::now().time_since_epoch()).count();
}

static int instr(long n)
{
    std::string name = "mproc-bench-boost-i-" + std::to_string(getpid());
    bip::message_queue::remove(name.c_str());
    bip::message_queue q(bip::create_only, name.c_str(), 16384, 64);
    char msg[64] = { 0 }, buf[64];
    for (long i = 0; i < n; i++) {
        q.send(msg, sizeof msg, 0);
        bip::message_queue::size_type len;
        unsigned prio;
        q.receive(buf, sizeof buf, len, prio);
    }
    bip::message_queue::remove(name.c_str());
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && !std::strcmp(argv[1], "--instr"))
        return instr(std::atol(argv[2]));
    if (argc != 6) {
        std::fprintf(stderr, "usage: queue_boost NP NC SIZE COUNT DEPTH\n");
        return 2;
    }
    int np = std::atoi(argv[1]), nc = std::atoi(argv[2]);
    size_t size = std::strtoul(argv[3], nullptr, 10);
    long count = std::atol(argv[4]), depth = std::atol(argv[5]);
    std::string name = "mproc-bench-boost-" + std::to_string(getpid());
    bip::message_queue::remove(name.c_str());
    double dt;
    try {
        bip::message_queue q(bip::create_only, name.c_str(), depth, size);
        int gate[2];
        if (pipe(gate) < 0)
            return 1;
        std::vector<pid_t> pids;
        for (int i = 0; i < np + nc; i++) {
            pid_t pid = fork();
            if (pid < 0)
                return 1;
            if (pid == 0) {
                close(gate[1]);
                std::vector<char> buf(size, 'b');
                char c;
                if (read(gate[0], &c, 1) != 1)
                    _exit(2);
                try {
                    if (i < np) {
                        for (long k = 0; k < count / np; k++) {
                            std::memcpy(buf.data(), &k, sizeof k);
                            q.send(buf.data(), size, 0);
                        }
                    } else {
                        for (long k = 0; k < count / nc; k++) {
                            bip::message_queue::size_type len;
                            unsigned prio;
                            q.receive(buf.data(), size, len, prio);
                            if (len != size)
                                _exit(1);
                        }
                    }
                } catch (...) {
                    _exit(1);
                }
                _exit(0);
            }
            pids.push_back(pid);
        }
        close(gate[0]);
        std::vector<char> go(pids.size(), 0);
        double t0 = now();
        if (write(gate[1], go.data(), go.size()) != (ssize_t)go.size())
            return 1;
        bool ok = true;
        for (pid_t pid : pids) {
            int st;
            while (waitpid(pid, &st, 0) < 0)
                ;
            ok = ok && WIFEXITED(st) && WEXITSTATUS(st) == 0;
        }
        dt = now() - t0;
        close(gate[1]);
        if (!ok)
            throw std::runtime_error("a child failed");
    } catch (const std::exception &e) {
        bip::message_queue::remove(name.c_str());
        std::fprintf(stderr, "queue_boost: %s\n", e.what());
        return 1;
    }
    bip::message_queue::remove(name.c_str());
    std::printf("%.3f\n", dt / (double)count * 1e9);
    return 0;
}
