package dev.molt.migration.cpr;

import dev.molt.fuzz.FuzzTarget;
import dev.molt.fuzz.Outcome;
import dev.molt.migration.vmstate.VmStateException;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;

/**
 * The CPR state a new molt reads from the memfd the old one left ({@link CprStateFile#decode}):
 * mutations, truncations, insertions and extreme bytes of a valid encoded state. A refusal must be
 * a {@link VmStateException} with a message. (The migration stream proper is fuzzed by
 * {@code dev.molt.migration.vmstate.FuzzTest}.)
 */
public final class CprStateFuzzTarget implements FuzzTarget<byte[]> {
    private final byte[] valid;

    public CprStateFuzzTarget() {
        CprState state = new CprState(List.of(new CprState.PreservedFd("pc.ram", 5, 1L << 30), new CprState.PreservedFd("extra", 6, 4096)),
                List.of("/usr/bin/molt", "-m", "1G", "-incoming", "defer"), "file:/tmp/state", 1, 2, 3, true).withKeeper(9, 1234);
        try {
            valid = CprStateFile.encode(state);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Override
    public String name() {
        return "cpr";
    }

    @Override
    public byte[] generate(Random r) {
        byte[] b = valid.clone();
        switch (r.nextInt(5)) {
            case 0 -> b[r.nextInt(b.length)] ^= (byte) (1 << r.nextInt(8));
            case 1 -> {
                int at = r.nextInt(b.length);
                byte[] extreme = {0, (byte) 0xff, 0x7f, (byte) 0x80, 1};
                for (int k = 0; k < 4 && at + k < b.length; k++) b[at + k] = extreme[r.nextInt(extreme.length)];
            }
            case 2 -> b = Arrays.copyOf(b, r.nextInt(b.length));
            case 3 -> {
                int at = r.nextInt(b.length);
                byte[] inserted = new byte[1 + r.nextInt(16)];
                r.nextBytes(inserted);
                byte[] out = new byte[b.length + inserted.length];
                System.arraycopy(b, 0, out, 0, at);
                System.arraycopy(inserted, 0, out, at, inserted.length);
                System.arraycopy(b, at, out, at + inserted.length, b.length - at);
                b = out;
            }
            default -> {
                for (int k = 1 + r.nextInt(8); k > 0; k--) b[r.nextInt(b.length)] = (byte) r.nextInt(256);
            }
        }
        return b;
    }

    @Override
    public Outcome run(byte[] input, Progress progress) {
        try {
            CprStateFile.decode(new ByteArrayInputStream(input));
            // The checksum covers every byte: only the unchanged state may load.
            if (!Arrays.equals(input, valid)) throw new AssertionError("a damaged CPR state loaded");
            return Outcome.ACCEPTED;
        } catch (VmStateException e) {
            return FuzzTarget.cleanError(e.getMessage());
        }
    }

    @Override
    public String describe(byte[] input) {
        return HexFormat.of().formatHex(input);
    }
}
