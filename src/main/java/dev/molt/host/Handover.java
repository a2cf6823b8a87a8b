package dev.molt.host;

import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicReference;

/**
 * What an implementation hands to the next one in the same process. Every fd here is a duplicate
 * that the new implementation owns from the start (the old one closes its own copies once the new
 * one took over, or keeps them all if it did not); numbers, not objects, so that no class of the old
 * implementation stays reachable.
 *
 * @param args the command line the new implementation runs (molt's own arguments, no JVM options)
 * @param cprStateFd a memfd with the CPR state, as a cpr-exec hands it over (the device state's file, the fds by name)
 * @param clients monitor clients to go on serving on their connections, without a new greeting
 * @param tookOver completed by the new implementation right before the guest runs under it; completed
 *     exceptionally by the old one when it gives up waiting (then the new one must give up too), and by
 *     the new one when it fails
 * @param abort set by the new implementation as soon as it runs: ends it where it stands, leaving
 *     every connection and path alone (the old implementation keeps them)
 */
public record Handover(List<String> args, int cprStateFd, List<HeldClient> clients, CompletableFuture<Void> tookOver,
                       AtomicReference<Runnable> abort) {
    public Handover {
        args = List.copyOf(args);
        clients = List.copyOf(clients);
    }
}
