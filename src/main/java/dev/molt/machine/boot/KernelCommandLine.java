package dev.molt.machine.boot;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/** The kernel command line as the guest reads it: bytes ending in NUL. */
final class KernelCommandLine {
    private KernelCommandLine() {}

    /**
     * UTF-8 bytes plus the terminating NUL; at most {@code maxWithNul} bytes in all.
     * {@code cmdline} may be null (an empty command line).
     */
    static byte[] encode(String cmdline, int maxWithNul) {
        byte[] text = (cmdline == null ? "" : cmdline).getBytes(StandardCharsets.UTF_8);
        for (byte b : text) {
            if (b == 0) throw new BootException("the kernel command line contains a NUL character");
        }
        if (text.length + 1 > maxWithNul) {
            throw new BootException(String.format(
                    "the kernel command line is %d bytes long; this kernel accepts at most %d",
                    text.length, maxWithNul - 1));
        }
        return Arrays.copyOf(text, text.length + 1);
    }
}
