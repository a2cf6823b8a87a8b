package dev.molt;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;
import static java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED;

/**
 * Sets up, on a second thread from {@code main} on, what the JDK builds at the first use of a few
 * of its APIs and the AOT cache does not hold, while {@code main} reads the CPR state and the command
 * line: otherwise a cpr-exec's restore pays for it, inside the guest's pause, one first use at a time.
 * <ul>
 * <li>the foreign memory API: a var handle for each kind of memory access (a few ms each), shared
 *     by every layout of the same carrier, alignment and byte order;
 * <li>pattern-matching switches: the first one's bootstrap (about 4 ms) sets up what every later
 *     site shares (each then costs about 0.5 ms).
 * </ul>
 * Nothing here is needed for correctness; it only moves work off the restart path's critical thread.
 */
final class JdkWarmUp {
    private JdkWarmUp() {}

    /** The memory accesses molt's code makes: native-order, unaligned, and little- and big-endian. */
    private static final ValueLayout[] LAYOUTS = {JAVA_BYTE, JAVA_SHORT, JAVA_INT, JAVA_LONG, JAVA_SHORT_UNALIGNED,
            JAVA_INT_UNALIGNED, JAVA_LONG_UNALIGNED, JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN),
            JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), JAVA_SHORT.withOrder(ByteOrder.BIG_ENDIAN)};

    private sealed interface Shape permits Round, Square {}

    private record Round() implements Shape {}

    private record Square() implements Shape {}

    static void run() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment m = arena.allocate(64, 8);
            long sum = 0;
            for (ValueLayout l : LAYOUTS) {
                switch (l) {
                    case ValueLayout.OfByte b -> { m.set(b, 1, (byte) 1); sum += m.get(b, 1); }
                    case ValueLayout.OfShort s -> { m.set(s, 2, (short) 2); sum += m.get(s, 2); }
                    case ValueLayout.OfInt i -> { m.set(i, 4, 3); sum += m.get(i, 4); }
                    case ValueLayout.OfLong j -> { m.set(j, 8, 4L); sum += m.get(j, 8); }
                    default -> { }
                }
            }
            byte[] bytes = new byte[16];
            MemorySegment.copy(bytes, 0, m, JAVA_BYTE, 16, 16);
            MemorySegment.copy(m, JAVA_BYTE, 0, bytes, 0, 16);
            sum += m.asSlice(0, 16).asByteBuffer().get(1) + MemorySegment.ofArray(bytes).byteSize();
            sum += MemorySegment.ofAddress(m.address()).reinterpret(16).get(JAVA_BYTE, 1);
            sum += Arena.ofAuto().allocate(16, 8).byteSize();
            sum += shape(sum % 2 == 0 ? new Round() : new Square());
            if (sum == Long.MIN_VALUE) System.err.print(""); // keeps the work from being optimised away
        }
    }

    private static int shape(Shape s) {
        return switch (s) {
            case Round r -> 1;
            case Square q -> 2;
        };
    }
}
