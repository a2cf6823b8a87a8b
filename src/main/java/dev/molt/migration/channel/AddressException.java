package dev.molt.migration.channel;

/**
 * A migration URI, MigrationChannel object or {@code -incoming} option that does not parse. The
 * message is complete and worded as QEMU words it ("unknown migration protocol: foo", "Channel list
 * has no main entry"), because QMP puts it verbatim into a GenericError reply and clients match it.
 */
public final class AddressException extends RuntimeException {
    public AddressException(String message) {
        super(message, null, false, false);
    }
}
