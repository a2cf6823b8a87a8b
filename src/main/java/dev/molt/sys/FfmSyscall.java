package dev.molt.sys;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * System calls through libc's {@code syscall(2)}, linked as one downcall of the foreign function
 * API: where {@link JniSyscall}'s library cannot be loaded. Linking a downcall costs a JDK 25 about
 * 10 ms per distinct shape, so there is exactly one. errno is captured by the linker.
 */
final class FfmSyscall implements Syscall.Entry {
    private static final StructLayout CAPTURE = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO = CAPTURE.varHandle(MemoryLayout.PathElement.groupElement("errno"));
    private static final ThreadLocal<MemorySegment> STATE = ThreadLocal.withInitial(() -> Arena.global().allocate(CAPTURE));

    private final MethodHandle syscall;

    private FfmSyscall(MethodHandle syscall) {
        this.syscall = syscall;
    }

    static FfmSyscall link() {
        Linker linker = Linker.nativeLinker();
        // syscall(2) is variadic, but linked as a plain function of seven longs: on x86-64 integer
        // arguments travel the same way either way, and glibc's syscall() is assembly that only moves
        // registers (it never reads %al, the variadic call's extra). The variadic link took about
        // 10 ms longer at start-up (27 ms against 17, median of 7, with an AOT cache).
        return new FfmSyscall(linker.downcallHandle(linker.defaultLookup().findOrThrow("syscall"),
                FunctionDescriptor.of(JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG),
                Linker.Option.captureCallState("errno")));
    }

    @Override
    public long call(long nr, long a1, long a2, long a3, long a4, long a5, long a6) {
        MemorySegment state = STATE.get();
        long r;
        try {
            r = (long) syscall.invokeExact(state, nr, a1, a2, a3, a4, a5, a6);
        } catch (Throwable t) {
            throw new AssertionError("syscall downcall failed", t);
        }
        return r == -1 ? -(int) ERRNO.get(state, 0L) : r;
    }
}
