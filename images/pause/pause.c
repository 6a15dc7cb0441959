/*
 * minik/pause — the process that owns a pod's namespaces.
 *
 * Every pod starts with this container. Docker creates the network (and IPC) namespace
 * for it; the pod's app containers then join those namespaces, so they share one IP and
 * can talk over localhost. The program itself does nothing useful on purpose: it must
 * never exit while the pod lives (its exit would tear the namespaces down), it must stop
 * at once and cleanly when asked (SIGTERM/SIGINT -> exit 0), and, as PID 1 of a shared
 * PID namespace (shareProcessNamespace: true), it reaps orphaned children so they do not
 * linger as zombies.
 *
 * Signals are blocked outside sigsuspend(), so a signal can never slip in between
 * "check the flag" and "go to sleep".
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#define VERSION "3.10"

static volatile sig_atomic_t stop_signal;

static void on_stop(int sig) { stop_signal = sig; }

static void on_child(int sig) {
    (void)sig;
    while (waitpid(-1, NULL, WNOHANG) > 0) {
    }
}

int main(int argc, char **argv) {
    if (argc > 1 && (strcmp(argv[1], "-v") == 0 || strcmp(argv[1], "--version") == 0)) {
        printf("minik pause %s\n", VERSION);
        return 0;
    }
    if (getpid() != 1) {
        fprintf(stderr, "pause: warning: not PID 1; zombies of others will not be reaped here\n");
    }

    sigset_t blocked, waiting;
    sigemptyset(&blocked);
    sigaddset(&blocked, SIGTERM);
    sigaddset(&blocked, SIGINT);
    sigaddset(&blocked, SIGCHLD);
    sigprocmask(SIG_BLOCK, &blocked, &waiting);
    sigdelset(&waiting, SIGTERM);
    sigdelset(&waiting, SIGINT);
    sigdelset(&waiting, SIGCHLD);

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = on_stop;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sa.sa_handler = on_child;
    sa.sa_flags = SA_NOCLDSTOP | SA_RESTART;
    sigaction(SIGCHLD, &sa, NULL);

    while (!stop_signal) {
        sigsuspend(&waiting);
    }
    fprintf(stderr, "pause: shutting down, got signal %d\n", (int)stop_signal);
    return 0;
}
