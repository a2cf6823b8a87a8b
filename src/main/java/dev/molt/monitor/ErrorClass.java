package dev.molt.monitor;

/** QAPI's error classes: the {@code "class"} of a QMP error reply. Their names are the wire names. */
public enum ErrorClass {
    GenericError,
    CommandNotFound,
    DeviceNotActive,
    DeviceNotFound,
    KVMMissingCap
}
