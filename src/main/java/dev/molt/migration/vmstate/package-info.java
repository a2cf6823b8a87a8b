/**
 * molt's versioned VM state stream: declarative state descriptions in the spirit of QEMU's VMState,
 * the stream framing, and RAM layout and page records. Live migration and CPR live update both
 * save and load through it; the byte-level format is in docs/migration-format.md.
 *
 * <ul>
 *   <li>{@link dev.molt.migration.vmstate.VmStateDescription}: a device's fields, declared once,
 *       drive save, load and validation ({@link dev.molt.migration.vmstate.VmStateBuilder},
 *       {@link dev.molt.migration.vmstate.FieldValues}).</li>
 *   <li>{@link dev.molt.migration.vmstate.StateStreamWriter} /
 *       {@link dev.molt.migration.vmstate.StateStreamReader}: the stream, section by section.</li>
 *   <li>{@link dev.molt.migration.vmstate.RamLayoutState}, {@link dev.molt.migration.vmstate.RamPages},
 *       {@link dev.molt.migration.vmstate.RamPageSink}: RAM blocks and page records.</li>
 *   <li>{@link dev.molt.migration.vmstate.VmStateException}: the one error type; it names the section
 *       and field.</li>
 * </ul>
 *
 * <p>The loader is built for hostile input: every length is checked against its declared bound and
 * against the bytes actually left before anything is allocated, every page record against the RAM
 * layout before anything is written, and it throws nothing but {@code VmStateException}.
 */
package dev.molt.migration.vmstate;
