// The exit boundary: everything the core cannot answer itself goes to the host.

@external("env", "ioIn")
export declare function hostIoIn(port: u32, size: u32): u32;

@external("env", "ioOut")
export declare function hostIoOut(port: u32, size: u32, value: u32): void;

@external("env", "mmioRead")
export declare function hostMmioRead(addr: u32, size: u32): u32;

@external("env", "mmioWrite")
export declare function hostMmioWrite(addr: u32, size: u32, value: u32): void;

// Returns 1 and stores the value at S_MSR_LO/S_MSR_HI when the host owns the MSR.
@external("env", "msrRead")
export declare function hostMsrRead(index: u32): u32;

@external("env", "msrWrite")
export declare function hostMsrWrite(index: u32, lo: u32, hi: u32): u32;

// Interrupt acknowledge cycle: the vector of the asserted INTR, or -1.
@external("env", "intAck")
export declare function hostIntAck(): i32;

@external("env", "readTsc")
export declare function hostReadTsc(): f64;
