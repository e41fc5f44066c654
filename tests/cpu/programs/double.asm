; Double fault: #GP whose gate is not present -> #NP -> #DF. With -DTRIPLE the
; #DF gate is not present either and the CPU shuts down (triple fault).
%include "pm-common.inc"
main:
%ifdef TRIPLE
    mov byte [idt + 8 * 8 + 5], 0x0e
%else
    SET_IDT 8, df_handler, 0x8e
%endif
    mov byte [idt + 13 * 8 + 5], 0x0e
    PUTS "GO "
    mov ax, 0x0203
    mov ds, ax
    PUTS "NOFAULT"
    EXIT 0x77

df_handler:
    mov ebp, esp
    PUTS "DF "
    PUTHEX [ebp], 8             ; error code
    PUTC ' '
    PUTHEX [ebp + 8], 4         ; CS
    EXIT 0x07
