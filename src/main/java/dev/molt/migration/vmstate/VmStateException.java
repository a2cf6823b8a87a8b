package dev.molt.migration.vmstate;

import java.util.Optional;

/**
 * Why a VM state stream (or a value being saved into one) was refused. The only exception the
 * loader throws: corrupt, truncated, hostile or incompatible input all end here, with the section
 * and field it concerns and the reason, so an operator can tell which device broke a migration.
 *
 * <p>The message reads {@code section 'S' field 'F': reason}, {@code section 'S': reason}, or just
 * the reason for errors in the stream framing outside any section. Field paths name nested values
 * as {@code list[3].field}, {@code struct.field} and {@code subsection/field}.
 */
public final class VmStateException extends RuntimeException {
    private final String section;
    private final String field;
    private final String reason;

    /** An error in {@code section} (null: outside any section), at {@code field} (null: the section itself). */
    public VmStateException(String section, String field, String reason) {
        this(section, field, reason, compose(section, field, reason), null);
    }

    public VmStateException(String section, String field, String reason, Throwable cause) {
        this(section, field, reason, compose(section, field, reason), cause);
    }

    private VmStateException(String section, String field, String reason, String message, Throwable cause) {
        super(message, cause);
        this.section = section;
        this.field = field;
        this.reason = reason;
    }

    /** An error in the stream framing, outside any section. */
    static VmStateException stream(String reason) {
        return new VmStateException(null, null, reason);
    }

    /** The input ended early; {@code where} says in what ("section 'cpu'", "the stream header"). */
    static VmStateException truncated(String section, String where) {
        return new VmStateException(section, null, "stream truncated", "stream truncated in " + where, null);
    }

    /** The input stream itself failed (a reset socket, an unreadable file). */
    static VmStateException io(String section, String where, Exception cause) {
        String reason = "I/O error: " + cause.getMessage();
        return new VmStateException(section, null, reason, "I/O error in " + where + ": " + cause.getMessage(), cause);
    }

    private static String compose(String section, String field, String reason) {
        if (section == null) return reason;
        return field == null
                ? "section '" + section + "': " + reason
                : "section '" + section + "' field '" + field + "': " + reason;
    }

    /** The section the error is in; empty for errors in the stream framing. */
    public Optional<String> section() {
        return Optional.ofNullable(section);
    }

    /** The field path inside the section; empty when the error concerns the section as a whole. */
    public Optional<String> field() {
        return Optional.ofNullable(field);
    }

    /** What is wrong, without the section and field. */
    public String reason() {
        return reason;
    }
}
