package dev.molt.kvm;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class KvmFlavourTest {
    @Test
    void detectsFromSysModule(@TempDir Path sys) throws IOException {
        assertEquals(KvmFlavour.UNKNOWN, KvmFlavour.detect(sys));
        Files.createDirectory(sys.resolve("kvm_intel"));
        assertEquals(KvmFlavour.VMX, KvmFlavour.detect(sys));
        Files.createDirectory(sys.resolve("kvm_pvm"));
        assertEquals(KvmFlavour.PVM, KvmFlavour.detect(sys), "kvm_pvm provides /dev/kvm even beside a hardware module");
        assertFalse(KvmFlavour.PVM.hardware());
        assertTrue(KvmFlavour.VMX.hardware());
    }
}
