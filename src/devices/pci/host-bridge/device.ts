// The Intel 82441FX (440FX) PCI and memory controller at 00:00.0. Its only
// job here is to be the host bridge software looks for and to own the
// configuration mechanism #1 ports.
import type { IoBus } from "../../../platform/io-bus.ts";
import type { PciBus } from "../bus.ts";
import {
  CLASS_HOST_BRIDGE,
  COMMAND_BUS_MASTER,
  COMMAND_MEMORY,
  REG_COMMAND,
  VENDOR_INTEL,
} from "../config-header.ts";
import { PciConfigPorts, type ResetControlRegister } from "../config-ports.ts";
import { PciDevice } from "../device.ts";
import { HOST_BRIDGE_STATE_VERSION, parseHostBridgeState, type HostBridgeState } from "./state.ts";

export const I440FX_DEVICE_ID = 0x1237;
const I440FX_REVISION = 0x02;

export interface HostBridgeOptions {
  bus: PciBus;
  /** The register at byte port 0xCF9 (the PIIX3's reset control). */
  resetControl?: ResetControlRegister;
}

export class I440fxHostBridge extends PciDevice {
  readonly configPorts: PciConfigPorts;

  constructor(options: HostBridgeOptions) {
    super({
      vendorId: VENDOR_INTEL,
      deviceId: I440FX_DEVICE_ID,
      classCode: CLASS_HOST_BRIDGE,
      revision: I440FX_REVISION,
      name: "i440FX host bridge",
    });
    // The CPU's path to memory: it always forwards memory cycles and masters PCI.
    this.writeRaw(REG_COMMAND, 2, COMMAND_MEMORY | COMMAND_BUS_MASTER);
    this.configPorts = new PciConfigPorts(options.bus, options.resetControl);
  }

  /** Claims the configuration ports 0xCF8-0xCFF. */
  attach(io: IoBus): void {
    this.configPorts.attach(io);
  }

  protected override saveDeviceState(): HostBridgeState {
    return { version: HOST_BRIDGE_STATE_VERSION, configAddress: this.configPorts.address };
  }

  protected override prepareDeviceState(value: unknown, what: string): () => void {
    const state = parseHostBridgeState(value, what);
    return () => {
      this.configPorts.address = state.configAddress;
    };
  }

  protected override onReset(): void {
    this.configPorts.address = 0;
  }
}
