; cpu-mix: the CPU-bound guest program of `npm run bench`.
;
; A 64 KiB ROM image (org 0) for guest-physical F0000-FFFFF; the reset vector
; at offset FFF0 jumps to `start`. It enters 32-bit protected mode with flat
; 4 GiB segments, turns paging on (identity map of the first 16 MiB in 4 KiB
; pages), then runs ITERS iterations of a mix of register ALU work, loads and
; stores spread over a 512 KiB working set (128 pages), data-dependent
; branches, a near call/ret, REP MOVSD / REP STOSB on small buffers and a few
; MUL / IMUL / DIV. At the end it folds the working set and the buffers into
; the checksum, prints it to port 0xE9 as 8 lowercase hex digits and a newline,
; and writes 0x10 to port 0xF4 (isa-debug-exit).
;
; Build:  nasm -f bin -o cpu-mix.rom cpu-mix.asm
; -DREALMODE builds a development variant that stays in real mode (16-bit code
; with 32-bit registers, segment arithmetic for the working set, no 0F opcodes
; in the workload). It computes the same checksum with a different
; instruction count.
; -DITERS=n changes the iteration count (and so the checksum).

%ifndef ITERS
%define ITERS 200000
%endif

ROMBASE     equ 0xF0000
PD          equ 0x1000          ; page directory; 4 page tables follow it
STACK_TOP   equ 0x7000
IDT         equ 0x7000          ; 32 gates (protected mode)
SEED        equ 0x8000          ; data variables (below 64 KiB for real mode)
RND         equ 0x8004
BUF_SRC     equ 0xA000          ; 4 KiB REP MOVSD source / REP STOSB target
BUF_DST     equ 0xC000          ; 4 KiB REP MOVSD destination
WS_SIZE     equ 0x80000         ; working set: 512 KiB = 128 pages
WS_MASK     equ WS_SIZE - 4
%ifdef REALMODE
WS_BASE     equ 0x20000         ; 0x20000-0x9FFFF, reached through FS
%else
WS_BASE     equ 0x400000        ; at 4 MiB
%endif

; WS_AT reg: makes [WSMEM(reg)] address working-set byte offset reg
; (reg < WS_SIZE). Real mode: FS = segment of the 64 KiB window, reg = offset
; inside it (clobbers ECX). Protected mode: nothing to do.
%macro WS_AT 1
%ifdef REALMODE
    mov ecx, %1
    shr ecx, 4
    and cx, 0xF000
    add cx, WS_BASE >> 4
    mov fs, cx
    and %1, 0xFFFF
%endif
%endmacro
%ifdef REALMODE
%define WSMEM(r) fs:r
%else
%define WSMEM(r) r + WS_BASE
%endif

    org 0
    bits 16

start:
    cli
    cld
    xor ax, ax
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov sp, STACK_TOP
    ; real-mode IVT: every exception vector -> F000:rm_fault
    xor di, di
    mov cx, 32
.ivt:
    mov ax, rm_fault
    stosw
    mov ax, 0xF000
    stosw
    loop .ivt
%ifdef REALMODE
    jmp workload
%else
    o32 lgdt [cs:gdtr]
    mov eax, cr0
    or al, 1
    mov cr0, eax
    jmp dword 0x08:(ROMBASE + pm32)

    bits 32
pm32:
    mov ax, 0x10
    mov ds, ax
    mov es, ax
    mov fs, ax
    mov gs, ax
    mov ss, ax
    mov esp, STACK_TOP
    ; IDT: vector k -> fault_stubs + 8 * k (32-bit interrupt gates)
    mov edi, IDT
    mov edx, ROMBASE + fault_stubs
    mov ecx, 32
.idt:
    mov eax, edx
    and eax, 0xFFFF
    or eax, 0x00080000
    stosd
    mov eax, edx
    and eax, 0xFFFF0000
    or eax, 0x8E00
    stosd
    add edx, 8
    loop .idt
    lidt [ROMBASE + idtr]
    ; page directory (4 present entries) and 4 page tables: identity 0-16 MiB
    mov edi, PD
    xor eax, eax
    mov ecx, 5 * 1024
    rep stosd
    mov edi, PD
    mov eax, PD + 0x1000 + 3
    mov ecx, 4
.pde:
    stosd
    add eax, 0x1000
    loop .pde
    mov edi, PD + 0x1000
    mov eax, 3
    mov ecx, 4 * 1024
.pte:
    stosd
    add eax, 0x1000
    loop .pte
    mov eax, PD
    mov cr3, eax
    mov eax, cr0
    or eax, 0x80000000
    mov cr0, eax
    jmp workload
%endif

; ---------------------------------------------------------------------------
; The workload: identical in both variants.
workload:
    ; fill the working set: ws[i] = i * 0x01000193 ^ 0x811C9DC5
    xor esi, esi
.fill:
    mov eax, esi
    mov edx, 0x01000193
    mul edx
    xor eax, 0x811C9DC5
    mov edi, esi
    WS_AT edi
    mov [WSMEM(edi)], eax
    add esi, 4
    cmp esi, WS_SIZE
    jb short .fill
    ; buffers: src[i] = i * 0x9E3779B1, dst zero
    mov edi, BUF_SRC
    xor eax, eax
.fillbuf:
    stosd
    add eax, 0x9E3779B1
    cmp edi, BUF_SRC + 0x1000
    jb short .fillbuf
    mov edi, BUF_DST
    xor eax, eax
    mov ecx, 1024
    rep stosd

    mov dword [SEED], 0x2545F491
    mov ebx, 0x6A09E667          ; checksum accumulator
    mov ebp, ITERS

iter:
    ; LCG step with MUL: seed = seed * 1103515245 + 12345
    mov eax, [SEED]
    mov ecx, 1103515245
    mul ecx
    add eax, 12345
    adc edx, 0
    mov [SEED], eax
    mov [RND], eax
    xor ebx, edx
    mov esi, eax

    ; 8 read-modify-writes at pseudo-random places of the working set
%assign k 0
%rep 8
    mov edi, esi
    and edi, WS_MASK
    WS_AT edi
    mov edx, [WSMEM(edi)]
    add edx, esi
    xor edx, ebx
    rol edx, 3
    mov [WSMEM(edi)], edx
    add ebx, edx
    rol esi, 7 + k
%assign k k + 1
%endrep

    ; data-dependent branches
    test esi, 1
    jz short .b1
    add ebx, 0x9E3779B9
    jmp short .b2
.b1:
    sub ebx, 0x7F4A7C15
.b2:
    mov ecx, esi
    and ecx, 7
.inner:                         ; 1..8 rounds
    add ebx, ecx
    rol ebx, 1
    dec ecx
    jns short .inner
    cmp bl, 0x80
    jb short .b3
    xor ebx, 0x5A5A5A5A
.b3:
    cmp esi, ebx
    ja short .b4
    sub ebx, esi
.b4:

    ; a near call
    mov eax, esi
    call mixfn
    add ebx, eax

    ; REP MOVSD: 16 dwords from src to dst at random 64-byte slots
    mov eax, [RND]
    mov esi, eax
    and esi, 0xFC0
    add esi, BUF_SRC
    mov edi, eax
    shr edi, 12
    and edi, 0xFC0
    add edi, BUF_DST
    mov ecx, 16
    rep movsd
    ; REP STOSB: 1..32 bytes of the checksum's low byte into src
    mov edi, eax
    shr edi, 20
    and edi, 0xFC0
    add edi, BUF_SRC
    mov ecx, eax
    shr ecx, 8
    and ecx, 31
    inc ecx
    mov edx, eax
    mov al, bl
    rep stosb
    ; fold a dst dword
    mov edi, edx
    shr edi, 6
    and edi, 0xFFC
    add ebx, [edi + BUF_DST]

    ; DIV and IMUL
    mov ecx, edx
    or ecx, 1
    mov eax, ebx
    xor edx, edx
    div ecx
    add ebx, edx
    xor ebx, eax
    imul eax, ebx, 0x045D9F3B
    xor ebx, eax
    mov eax, ebx
    mov ecx, 0x0101
    mul cx
    add bx, dx

    dec ebp
    jz short done
    jmp iter

; eax = f(eax, ebx)
mixfn:
    xor eax, ebx
    rol eax, 13
    lea eax, [eax + eax * 4 + 7]
    sub eax, ebx
    shr eax, 1
    ret

done:
    ; fold the working set
    xor esi, esi
.ws:
    mov edi, esi
    WS_AT edi
    rol ebx, 5
    add ebx, [WSMEM(edi)]
    add esi, 4
    cmp esi, WS_SIZE
    jb short .ws
    ; fold both buffers
    mov esi, BUF_SRC
.buf:
    rol ebx, 3
    xor ebx, [esi]
    add esi, 4
    cmp esi, BUF_DST + 0x1000
    jb short .buf

    ; print ebx as 8 hex digits and a newline on port 0xE9
    mov ecx, 8
.hex:
    rol ebx, 4
    mov al, bl
    and al, 0x0F
    add al, '0'
    cmp al, '9'
    jbe short .digit
    add al, 'a' - '0' - 10
.digit:
    out 0xE9, al
    dec ecx
    jnz short .hex
    mov al, 10
    out 0xE9, al
    ; isa-debug-exit
    mov al, 0x10
    out 0xF4, al
.stop:
    cli
    hlt
    jmp short .stop

; An exception in real mode: print "!real-mode exception at <cs>:<ip>" and
; exit with 0x11, so a broken core fails loudly instead of running away.
    bits 16
rm_fault:
    mov si, rm_fault_msg
.msg:
    mov al, [cs:si]
    test al, al
    jz short .regs
    out 0xE9, al
    inc si
    jmp short .msg
.regs:
    pop bx                      ; ip
    pop dx                      ; cs
    mov cx, 4
.cs:
    rol dx, 4
    mov al, dl
    call rm_hex_digit
    loop .cs
    mov al, ':'
    out 0xE9, al
    mov cx, 4
.ip:
    rol bx, 4
    mov al, bl
    call rm_hex_digit
    loop .ip
    mov al, 10
    out 0xE9, al
    mov al, 0x11
    out 0xF4, al
.stop:
    cli
    hlt
    jmp short .stop
rm_hex_digit:
    and al, 0x0F
    add al, '0'
    cmp al, '9'
    jbe short .out
    add al, 'a' - '0' - 10
.out:
    out 0xE9, al
    ret
rm_fault_msg:
    db "!real-mode exception at ", 0

%ifndef REALMODE
; An exception in protected mode: print "!exception <vector> <two stack
; dwords: error code or EIP, ...>" and exit with 0x11.
    bits 32
    align 8
fault_stubs:
%assign k 0
%rep 32
    push byte k                 ; 2 bytes
    jmp near pm_fault           ; 5 bytes
    nop
%assign k k + 1
%endrep
pm_fault:
    mov esi, ROMBASE + pm_fault_msg
.msg:
    mov al, [esi]
    test al, al
    jz short .regs
    out 0xE9, al
    inc esi
    jmp short .msg
.regs:
    mov ebp, 3
.word:
    pop ebx
    mov ecx, 8
.hex:
    rol ebx, 4
    mov al, bl
    and al, 0x0F
    add al, '0'
    cmp al, '9'
    jbe short .digit
    add al, 'a' - '0' - 10
.digit:
    out 0xE9, al
    loop .hex
    mov al, ' '
    out 0xE9, al
    dec ebp
    jnz short .word
    mov al, 10
    out 0xE9, al
    mov al, 0x11
    out 0xF4, al
.stop:
    cli
    hlt
    jmp short .stop
pm_fault_msg:
    db "!exception ", 0

    align 8
idtr:
    dw 32 * 8 - 1
    dd IDT
    align 8
gdt:
    dq 0
    dq 0x00CF9A000000FFFF       ; 0x08: code, flat 4 GiB, 32-bit
    dq 0x00CF92000000FFFF       ; 0x10: data, flat 4 GiB
gdt_end:
gdtr:
    dw gdt_end - gdt - 1
    dd ROMBASE + gdt
%endif

    times 0xFFF0 - ($ - $$) db 0xF4
    bits 16
reset:
    jmp 0xF000:start
    times 0x10000 - ($ - $$) db 0xF4
