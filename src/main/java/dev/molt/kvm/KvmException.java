package dev.molt.kvm;

/** KVM cannot do what molt needs (missing device, capability, or a failed set-up step). */
public final class KvmException extends RuntimeException {
    public KvmException(String message) {
        super(message);
    }

    public KvmException(String message, Throwable cause) {
        super(message, cause);
    }
}
