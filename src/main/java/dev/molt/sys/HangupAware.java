package dev.molt.sys;

/**
 * An input that can tell its peer has gone without reading from it: a reader that must not read
 * (its device has no room) still notices a client that left.
 */
public interface HangupAware {
    boolean peerHungUp();
}
