; A 64 KiB BIOS ROM that greets through the debugcon port and exits.
;   nasm -f bin examples/hello.asm -o hello.rom
;   npx hive86 run --bios hello.rom --debugcon -     (exit status 0x21 << 1 | 1 = 67)
bits 16
org 0

start:
  mov al, 0x01
  out 0x80, al            ; POST code: ROM entered
  mov ax, cs
  mov ds, ax
  mov si, message
  mov dx, 0xe9            ; debugcon
.next:
  lodsb
  test al, al
  jz .done
  out dx, al
  jmp .next
.done:
  mov al, 0x02
  out 0x80, al            ; POST code: message printed
  mov al, 0x21
  out 0xf4, al            ; isa-debug-exit: status (0x21 << 1) | 1
  cli
  hlt

message: db "Hello from hive86", 10, 0

  times 0xfff0 - ($ - $$) db 0
reset_vector:             ; F000:FFF0
  jmp 0xf000:start
  times 0x10000 - ($ - $$) db 0
