package dev.molt.host;

/**
 * One loaded implementation of molt, as the host and the previous implementation see it.
 * Implementations name their class in the jar's manifest ({@value #MANIFEST_ATTRIBUTE}).
 */
public interface Generation {
    /**
     * The version of this package's contract. An implementation refuses a host of another version
     * before anything stops; a change to any type here that an older implementation would misread
     * raises it.
     */
    int INTERFACE_VERSION = 1;

    /** The jar manifest attribute naming the class that implements this interface (a public no-argument constructor). */
    String MANIFEST_ATTRIBUTE = "Molt-Generation";

    /** What {@link #run} returns when this implementation handed the guest to a newer one: no exit status. */
    int HANDED_OVER = -1;

    /** {@link #INTERFACE_VERSION} as the implementation was built with it. */
    int interfaceVersion();

    /** The implementation's version (its jar's Implementation-Version), for messages. */
    String version();

    /**
     * Everything that can be done before the guest stops: classes loaded, linked and initialised,
     * native calls linked, {@code args} (what {@link #run} will get in {@link Handover#args()})
     * checked and parsed. Runs on the old implementation's thread while the guest still runs;
     * throws if this implementation cannot take over in this process, saying why.
     */
    void prepare(java.util.List<String> args);

    /**
     * Takes the guest over from {@code handover} and runs molt on the calling thread until it ends
     * ({@link #HANDED_OVER} if it is itself replaced); must complete {@link Handover#tookOver()}
     * right before the guest runs under it, and give up if that was completed already (the old
     * implementation timed out and took the guest back).
     */
    int run(Handover handover);
}
