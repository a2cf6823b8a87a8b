package dev.molt.qtest;

/**
 * A request the qtest server cannot carry out: the client gets {@code FAIL <message>} and the
 * machine carries on. (Where QEMU's server asserts and aborts on a malformed request, molt answers
 * FAIL instead: a test's typo must not end a VM.)
 */
final class QtestFailure extends RuntimeException {
    QtestFailure(String message) {
        super(message, null, false, false);
    }
}
