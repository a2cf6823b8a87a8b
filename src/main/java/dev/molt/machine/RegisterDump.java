package dev.molt.machine;

import dev.molt.kvm.Structs;
import dev.molt.kvm.Vcpu;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

/** A QEMU-style register dump for a vCPU that stopped with an error. Called on the vCPU's thread. */
final class RegisterDump {
    private RegisterDump() {}

    static String internalError(Vcpu v, MemorySegment run) {
        int suberror = run.get(JAVA_INT, Structs.Run.INTERNAL_SUBERROR);
        int ndata = Math.min(run.get(JAVA_INT, Structs.Run.INTERNAL_NDATA), 16);
        StringBuilder sb = new StringBuilder();
        sb.append("KVM internal error on vCPU ").append(v.id()).append(". Suberror: ").append(suberror).append('\n');
        for (int i = 0; i < ndata; i++) {
            sb.append(String.format("extra data[%d]: 0x%016x%n", i, run.get(JAVA_LONG, Structs.Run.INTERNAL_DATA + 8L * i)));
        }
        if (suberror == 1) {
            sb.append("emulation failure");
            // For KVM_INTERNAL_ERROR_EMULATION, data[0] is flags, then insn_size and the bytes.
            if (ndata >= 2) {
                int insnSize = Math.min(run.get(JAVA_BYTE, Structs.Run.INTERNAL_DATA + 8) & 0xFF, 15);
                sb.append(", instruction bytes:");
                for (int i = 0; i < insnSize; i++) {
                    sb.append(String.format(" %02x", run.get(JAVA_BYTE, Structs.Run.INTERNAL_DATA + 9 + i) & 0xFF));
                }
            }
            sb.append('\n');
        }
        return sb.append(of(v)).toString();
    }

    static String of(Vcpu v) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment regs = a.allocate(Structs.REGS_SIZE, 8);
            MemorySegment sregs = a.allocate(Structs.SREGS_SIZE, 8);
            v.getRegs(regs);
            v.getSregs(sregs);
            StringBuilder sb = new StringBuilder();
            String[] names = Structs.Regs.NAMES;
            for (int i = 0; i < names.length; i++) {
                String n = names[i].toUpperCase();
                if (n.equals("RFLAGS")) n = "RFL";
                sb.append(String.format("%-3s=%016x", n, regs.get(JAVA_LONG, 8L * i)));
                sb.append(i % 4 == 3 || i == names.length - 1 ? '\n' : ' ');
            }
            String[] segs = {"ES", "CS", "SS", "DS", "FS", "GS", "LDT", "TR"};
            int[] offs = {Structs.Sregs.ES, Structs.Sregs.CS, Structs.Sregs.SS, Structs.Sregs.DS,
                    Structs.Sregs.FS, Structs.Sregs.GS, Structs.Sregs.LDT, Structs.Sregs.TR};
            for (int i = 0; i < segs.length; i++) {
                long o = offs[i];
                sb.append(String.format("%-3s=%04x %016x %08x type=%x dpl=%d l=%d db=%d%n", segs[i],
                        sregs.get(JAVA_SHORT, o + Structs.Segment.SELECTOR) & 0xFFFF,
                        sregs.get(JAVA_LONG, o + Structs.Segment.BASE),
                        sregs.get(JAVA_INT, o + Structs.Segment.LIMIT),
                        sregs.get(JAVA_BYTE, o + Structs.Segment.TYPE),
                        sregs.get(JAVA_BYTE, o + Structs.Segment.DPL),
                        sregs.get(JAVA_BYTE, o + Structs.Segment.L),
                        sregs.get(JAVA_BYTE, o + Structs.Segment.DB)));
            }
            sb.append(String.format("GDT=     %016x %08x%n", sregs.get(JAVA_LONG, Structs.Sregs.GDT),
                    sregs.get(JAVA_SHORT, Structs.Sregs.GDT + 8) & 0xFFFF));
            sb.append(String.format("IDT=     %016x %08x%n", sregs.get(JAVA_LONG, Structs.Sregs.IDT),
                    sregs.get(JAVA_SHORT, Structs.Sregs.IDT + 8) & 0xFFFF));
            sb.append(String.format("CR0=%08x CR2=%016x CR3=%016x CR4=%08x%n",
                    sregs.get(JAVA_LONG, Structs.Sregs.CR0), sregs.get(JAVA_LONG, Structs.Sregs.CR2),
                    sregs.get(JAVA_LONG, Structs.Sregs.CR3), sregs.get(JAVA_LONG, Structs.Sregs.CR4)));
            sb.append(String.format("EFER=%016x APIC_BASE=%016x", sregs.get(JAVA_LONG, Structs.Sregs.EFER),
                    sregs.get(JAVA_LONG, Structs.Sregs.APIC_BASE)));
            return sb.toString();
        } catch (RuntimeException e) {
            return "(registers unavailable: " + e.getMessage() + ")";
        }
    }
}
