; Segment checks: limit violations and bad selectors raise the right faults.
%include "pm-common.inc"
main:
    ; 1. data segment limit 0xFFF: a dword at 0xFFE crosses it -> #GP(0)
    EXPECT .t2
    mov ax, SEL_SMALL
    mov ds, ax
    mov eax, [0xffc]          ; fine: last dword inside
    mov eax, [0xffe]
    PUTS "NOFAULT1 "
.t2:
    mov ax, SEL_DATA0
    mov ds, ax
    ; 2. selector beyond the GDT limit -> #GP(sel)
    EXPECT .t3
    mov ax, 0x0203
    mov es, ax
    PUTS "NOFAULT2 "
.t3:
    ; 3. execute-only code into DS -> #GP(sel)
    EXPECT .t4
    mov ax, SEL_XONLY
    mov ds, ax
    PUTS "NOFAULT3 "
.t4:
    ; 4. not-present data segment -> #NP(sel)
    EXPECT .t5
    mov ax, SEL_NOTP
    mov fs, ax
    PUTS "NOFAULT4 "
.t5:
    ; 5. null into SS -> #GP(0); null into ES is fine, using it is #GP(0)
    EXPECT .t6
    xor ax, ax
    mov ss, ax
    PUTS "NOFAULT5 "
.t6:
    xor ax, ax
    mov es, ax
    PUTS "NULLOK "
    EXPECT .t7
    mov eax, [es:0]
    PUTS "NOFAULT6 "
.t7:
    ; 6. SS limit violation -> #SS(0)
    EXPECT .t8
    mov ax, SEL_SMALL
    mov ss, ax
    mov esp, 0x1000
    push eax                  ; fine
    mov esp, 0x800            ; room for the exception frame
    mov dword [ss:0xffe], 0   ; crosses the limit
    PUTS "NOFAULT7 "
.t8:
    mov ax, SEL_DATA0
    mov ss, ax
    mov esp, 0x90000
    ; 7. DPL 1 data segment with RPL 0 from CPL 0 is fine; far jump beyond the limit -> #GP(0)
    mov ax, SEL_DATA1
    mov gs, ax
    EXPECT .t9
    jmp SEL_CODE16:0x12345
    PUTS "NOFAULT8 "
.t9:
    NOEXPECT
    PUTS "DONE"
    EXIT 0x02
