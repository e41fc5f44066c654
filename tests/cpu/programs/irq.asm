; An external interrupt wakes HLT and is delivered through an interrupt gate.
%include "pm-common.inc"
main:
    SET_IDT 0x20, irq_handler, 0x8e
    PUTS "WAIT "
    sti
    hlt
    PUTS "AFTER "
    PUTHEX [irq_fl], 8
    PUTC ' '
    PUTHEX [irq_myfl], 8
    EXIT 0x09
irq_handler:
    mov eax, [esp + 8]
    mov [irq_fl], eax
    pushfd
    pop dword [irq_myfl]
    PUTS "IRQ "
    iretd
align 4
irq_fl: dd 0
irq_myfl: dd 0
