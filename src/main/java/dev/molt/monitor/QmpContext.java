package dev.molt.monitor;

/** What a QMP command handler may know about the session that called it. */
interface QmpContext {
    /** True once qmp_capabilities has succeeded on this session. */
    boolean negotiated();

    /** Called by qmp_capabilities when it succeeds. */
    void completeNegotiation();

    /** The client's transport, for fds passed with SCM_RIGHTS. */
    Connection connection();

    /** Runs {@code action} once the reply has been handed to the client (quit). */
    void afterReply(Runnable action);
}
