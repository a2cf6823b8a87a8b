package dev.molt.migration.channel;

import java.util.Optional;

/**
 * All {@code -incoming} options of a command line, combined as QEMU 10 combines them: one per
 * channel type, the last one of a type wins. {@code main} is empty without any main option (no
 * incoming migration), {@link IncomingOption.Defer} for {@code -incoming defer}, else the channel.
 */
public record IncomingOptions(Optional<IncomingOption> main, Optional<MigrationAddress> cpr) {
    public static IncomingOptions none() {
        return new IncomingOptions(Optional.empty(), Optional.empty());
    }

    /** Adds the option text of one {@code -incoming}; throws {@link AddressException} in QEMU's words. */
    public IncomingOptions with(String option) {
        return with(IncomingOption.parse(option));
    }

    public IncomingOptions with(IncomingOption option) {
        return switch (option) {
            case IncomingOption.Defer d -> new IncomingOptions(Optional.of(d), cpr);
            case MigrationChannel c when c.type() == ChannelType.CPR -> new IncomingOptions(main, Optional.of(c.addr()));
            case MigrationChannel c -> new IncomingOptions(Optional.of(c), cpr);
        };
    }

    /** Whether molt was started to receive a migration (QEMU's runstate "inmigrate"). */
    public boolean incoming() {
        return main.isPresent();
    }

    public boolean deferred() {
        return main.orElse(null) instanceof IncomingOption.Defer;
    }

    /** The main channel's address, unless deferred or absent. */
    public Optional<MigrationAddress> mainAddress() {
        return main.flatMap(o -> o instanceof MigrationChannel c ? Optional.of(c.addr()) : Optional.empty());
    }
}
