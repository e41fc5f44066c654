; Paging: #PF error codes and CR2, CR0.WP, accessed/dirty bits, 4 MiB pages, INVLPG.
%include "pm-common.inc"
PD equ 0x20000
PT equ 0x21000
main:
    ; page table: identity map of 0..4 MiB, user + writable, A/D clear
    mov edi, PT
    mov eax, 7
    mov ecx, 1024
.fill:
    mov [edi], eax
    add eax, 0x1000
    add edi, 4
    loop .fill
    mov dword [PT + 0x30 * 4], 0x30000 | 5     ; read-only
    mov dword [PT + 0x31 * 4], 0               ; not present
    mov edi, PD
    xor eax, eax
    mov ecx, 1024
    rep stosd
    mov dword [PD], PT | 7
    mov dword [PD + 4], 0x00000087              ; 4 MiB page at 4 MiB -> physical 0
    mov dword [0x33000], 0x41414141
    mov dword [0x34000], 0x42424242
    mov eax, cr4
    or eax, 0x10                                ; PSE
    mov cr4, eax
    mov eax, PD
    mov cr3, eax
    mov eax, cr0
    or eax, 0x80000000
    mov cr0, eax
    PUTS "PG "
    EXPECT .t2
    mov eax, [0x31000]
    PUTS "NOFAULT1 "
.t2:
    EXPECT .t3
    mov dword [0x31004], 1
    PUTS "NOFAULT2 "
.t3:
    mov dword [0x30000], 0x11                   ; WP=0: supervisor may write
    PUTS "WP0 "
    mov eax, cr0
    or eax, 0x10000
    mov cr0, eax
    EXPECT .t4
    mov dword [0x30000], 0x22
    PUTS "NOFAULT3 "
.t4:
    PUTHEX [0x30000], 2
    PUTC ' '
    ; accessed / dirty
    PUTHEX [PT + 0x32 * 4], 2
    mov eax, [0x32000]
    PUTC '-'
    PUTHEX [PT + 0x32 * 4], 2
    mov dword [0x32000], 5
    PUTC '-'
    PUTHEX [PT + 0x32 * 4], 2
    PUTC ' '
    ; 4 MiB page
    mov dword [0x450000], 0xcafebabe
    PUTHEX [0x50000], 8
    PUTC ' '
    PUTHEX [PD + 4], 2
    PUTC ' '
    ; INVLPG after changing a PTE
    mov eax, [0x33000]
    mov dword [PT + 0x33 * 4], 0x34000 | 7
    invlpg [0x33000]
    PUTHEX [0x33000], 8
    PUTC ' '
    ; user access to a supervisor page from ring 3 -> #PF(5)
    mov dword [PT + 0x35 * 4], 0x35000 | 3      ; supervisor only
    invlpg [0x35000]
    LOAD_TSS
    EXPECT .t5
    IRET_TO_RING3 .user, 0x2
.user:
    mov eax, [ss:0x35000]
    jmp $
.t5:
    EXPECT .t6
    mov eax, [0x35000]
    PUTS "SUPOK "
    IRET_TO_RING3 .user2, 0x2
.user2:
    mov dword [ss:0x30000], 0      ; user write to a read-only page -> #PF(7)
    jmp $
.t6:
    NOEXPECT
    EXIT 0x04
