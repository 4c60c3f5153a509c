/**
 * Access to libvirtd through the optional `@unraid/libvirt` bindings (connect,
 * lookup, XML, define). The bindings build from source against libvirt-dev, so
 * they may be missing: then every libvirt feature fails with an error saying
 * how to get them, and nothing else in hmmv is affected.
 */

/** The part of @unraid/libvirt hmmv uses (typed here so hmmv builds without it). */
interface LibvirtDomain {
  readonly __brand?: unknown;
}
interface LibvirtHypervisor {
  connectOpen(): Promise<void>;
  connectClose(): Promise<void>;
  domainLookupByName(name: string): Promise<LibvirtDomain>;
  domainGetXMLDesc(domain: LibvirtDomain, flags?: number): Promise<string>;
  domainDefineXML(xml: string): Promise<LibvirtDomain>;
  domainGetInfo(domain: LibvirtDomain): Promise<{ state: number; maxMem: number; memory: number; nrVirtCpu: number }>;
}
interface LibvirtModule {
  Hypervisor: new (options: { uri: string }) => LibvirtHypervisor;
}

/** virDomainXMLFlags */
export const XML_SECURE = 1;
export const XML_INACTIVE = 2;
/** virDomainState: 1 running, 2 blocked, 3 paused, 4 shutdown in progress, 7 pmsuspended. */
const ACTIVE_STATES = new Set([1, 2, 3, 4, 7]);

export const DEFAULT_URI = 'qemu:///system';

export const BINDINGS_MODULE = '@unraid/libvirt';
const loaded = new Map<string, Promise<LibvirtModule>>();

async function loadBindings(name: string): Promise<LibvirtModule> {
  try {
    return (await import(name)) as LibvirtModule;
  } catch (error) {
    throw new Error(
      `the libvirt bindings (${name}) are not available: ${(error as Error).message.split('\n')[0]}. ` +
        `Install libvirt-dev, pkg-config, make, g++ and python3 (Debian: apt-get install libvirt-dev pkg-config make g++ python3), then run 'npm install' again.`,
      { cause: error },
    );
  }
}

export class LibvirtConnection {
  private constructor(
    private readonly hv: LibvirtHypervisor,
    readonly uri: string,
  ) {}

  /** Connects to libvirtd; `bindings` names the module to load (tests point it at a missing one). */
  static async open(uri = process.env.LIBVIRT_DEFAULT_URI || DEFAULT_URI, bindings = BINDINGS_MODULE): Promise<LibvirtConnection> {
    if (!loaded.has(bindings)) loaded.set(bindings, loadBindings(bindings));
    const lib = await loaded.get(bindings)!.catch((e: unknown) => {
      loaded.delete(bindings);
      throw e;
    });
    const hv = new lib.Hypervisor({ uri });
    try {
      await hv.connectOpen();
    } catch (error) {
      throw new Error(`cannot connect to libvirt at ${uri}: ${(error as Error).message}. Is libvirtd running (see .ci/setup.d/20-libvirtd.sh)?`, { cause: error });
    }
    return new LibvirtConnection(hv, uri);
  }

  /** Runs `fn` on a fresh connection and closes it afterwards. */
  static async with<T>(fn: (conn: LibvirtConnection) => Promise<T>, uri?: string): Promise<T> {
    const conn = await LibvirtConnection.open(uri);
    try {
      return await fn(conn);
    } finally {
      await conn.close();
    }
  }

  private async lookup(name: string): Promise<LibvirtDomain> {
    try {
      return await this.hv.domainLookupByName(name);
    } catch (error) {
      throw new Error(`no domain named '${name}' on ${this.uri}: ${(error as Error).message}`, { cause: error });
    }
  }

  /** The persistent (next-boot) definition, with secrets, as `virsh dumpxml --inactive --security-info`. */
  async inactiveXml(name: string): Promise<string> {
    return this.hv.domainGetXMLDesc(await this.lookup(name), XML_INACTIVE | XML_SECURE);
  }

  /** The running definition (or the persistent one when the domain is off). */
  async liveXml(name: string): Promise<string> {
    return this.hv.domainGetXMLDesc(await this.lookup(name), 0);
  }

  async isActive(name: string): Promise<boolean> {
    const info = await this.hv.domainGetInfo(await this.lookup(name));
    return ACTIVE_STATES.has(info.state);
  }

  async define(xml: string): Promise<void> {
    await this.hv.domainDefineXML(xml);
  }

  async close(): Promise<void> {
    await this.hv.connectClose();
  }
}
