package dev.molt.monitor;

/**
 * A monitor as the command line asks for it: which character backend it serves and in which
 * protocol. {@code location} is how the option was spelled, for error messages.
 */
public record MonitorConfig(String chardev, Protocol protocol, boolean pretty, String location) {
}
