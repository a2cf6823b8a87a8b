package dev.molt.monitor;

/**
 * Input that is not acceptable JSON, or that exceeds a limit. The message is complete and worded as
 * QEMU words it ({@code "JSON parse error, expecting value"}, {@code "JSON nesting depth limit
 * exceeded"}) because QMP puts it verbatim into a {@code GenericError} reply.
 */
public final class JsonException extends RuntimeException {
    public JsonException(String message) {
        super(message, null, false, false);
    }

    static JsonException syntax(String detail) {
        return new JsonException("JSON parse error, " + detail);
    }
}
