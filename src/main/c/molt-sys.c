/*
 * molt's system call entry for the JVM: dev.molt.sys.JniSyscall.call0, the one native function molt
 * has. Java's foreign function API links its downcall at every start, which takes a JDK 25 some
 * 25-35 ms in the interpreter, inside a cpr-exec's pause; loading this library takes about 2 ms.
 * Syscall falls back to that downcall where this library cannot be loaded (docs/live-update.md).
 *
 * Built by Maven (pom.xml, exec-maven-plugin) into target/libmolt-sys.so, beside molt.jar.
 */
#define _GNU_SOURCE /* syscall() */
#include <errno.h>
#include <jni.h>
#include <unistd.h>

/* The kernel's result, or -errno on failure: as the raw system call returns it. */
JNIEXPORT jlong JNICALL Java_dev_molt_sys_JniSyscall_call0(JNIEnv *env, jclass cls, jlong nr, jlong a1, jlong a2,
                                                           jlong a3, jlong a4, jlong a5, jlong a6)
{
    (void) env;
    (void) cls;
    long r = syscall(nr, a1, a2, a3, a4, a5, a6);
    return r == -1 ? -(jlong) errno : r;
}
