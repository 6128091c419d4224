/**
 * The emulator's network: a sandbox reaches "the internet", never this machine's loopback, as on Modal.
 *
 * Every sandbox has a network namespace of its own (bwrap --unshare-net), so 127.0.0.1 inside it is the sandbox's own
 * loopback. Unless the sandbox blocks the network, the emulator (as root) gives it one end of a veth pair, with a
 * random address in 198.19.0.0/16, and routes through the other end on this machine. The one address that answers
 * there is the emulator's internet address, 198.18.0.1 (RFC 2544's benchmarking range, never routed on the real
 * internet), which `npm run setup` puts on this machine's `lo`. Services the emulator publishes (`publish`) listen
 * there: that is how a sandbox reaches the key proxy, through its public URL, exactly as in production.
 *
 * - blockNetwork: no veth at all, only the sandbox's own loopback.
 * - outboundCidrAllowlist: routes only for the allowed CIDRs (a connection elsewhere fails with "network
 *   unreachable"); no allowlist: a default route.
 * - No IPv6 on this machine's end, so nothing bound to `::` leaks through a link-local address.
 * - What is on this machine and listens on every address (0.0.0.0) is reachable at 198.18.0.1 too; bind local
 *   services to 127.0.0.1 if a sandbox must not see them (the server's own default is documented).
 */
import { execFile, execFileSync, spawn } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import net from 'node:net';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/** The emulator's "internet": published services listen here, and sandboxes route here. */
export const INTERNET_ADDRESS = '198.18.0.1';
/** Sandboxes get a /32 from this range (random; the host route tells a collision). */
const SANDBOX_RANGE = [198, 19] as const;

export type NetworkPolicy = { kind: 'blocked' } | { kind: 'open' } | { kind: 'allowlist'; cidrs: string[] };

/** What is missing for the emulator's network, or undefined when it can run; says how to fix it. */
export function networkProblem(): string | undefined {
  if (process.getuid?.() !== 0) {
    return 'the Modal emulator gives each sandbox a network of its own (veth pairs), which needs root; run it as root';
  }
  let addresses: string;
  try {
    addresses = execFileSync('ip', ['-o', '-4', 'addr', 'show', 'dev', 'lo'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    return 'the Modal emulator needs `ip` (Debian package iproute2) for its sandbox network; run `npm run setup`';
  }
  if (!addresses.includes(` ${INTERNET_ADDRESS}/32 `)) {
    return `the Modal emulator's internet address ${INTERNET_ADDRESS} is not on this machine's lo; run \`npm run setup\` as root (it adds it, once per boot)`;
  }
  return undefined;
}

/** Idempotent provisioning (what `npm run setup` runs as root): puts the internet address on `lo`. */
export async function provisionNetwork(): Promise<string> {
  const { stdout } = await execFileAsync('ip', ['-o', '-4', 'addr', 'show', 'dev', 'lo']);
  if (stdout.includes(` ${INTERNET_ADDRESS}/32 `)) return `sandbox network: ${INTERNET_ADDRESS} already on lo`;
  await execFileAsync('ip', ['addr', 'add', `${INTERNET_ADDRESS}/32`, 'dev', 'lo']);
  return `sandbox network: added ${INTERNET_ADDRESS}/32 to lo`;
}

/** Checks and normalises an IPv4 CIDR as Modal accepts it; throws with the reason otherwise. */
export function parseCidr(cidr: string): string {
  const match = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})(?:\/(\d{1,2}))?$/.exec(cidr.trim());
  if (!match || match.slice(1, 5).some((part) => Number(part) > 255) || Number(match[5] ?? 32) > 32) {
    throw new Error(`not an IPv4 CIDR: ${cidr}`);
  }
  return `${match.slice(1, 5).join('.')}/${match[5] ?? 32}`;
}

/**
 * This machine's end of a sandbox's veth pair, then the sandbox's end, in one process: a shell started once per
 * sandbox (starting a process from the emulator's large process costs ~20 ms of fork; three per sandbox added up to
 * a tenth of the Modal lanes' main-thread time). Exit 3: this machine's end failed (a name or, on `route add`, an
 * address another sandbox holds); the pair is removed and the caller tries another. The sandbox's routes come on
 * stdin, for `ip -batch` inside its namespace.
 */
const CONNECT_SCRIPT = `
ip link add "$1" type veth peer name eth0 netns "$2" || exit 3
if ! { echo 1 > "/proc/sys/net/ipv6/conf/$1/disable_ipv6" && ip link set "$1" up && ip route add "$3/32" dev "$1"; }; then
  ip link del "$1" 2>/dev/null
  exit 3
fi
exec nsenter --net="/proc/$2/ns/net" ip -batch -
`;
const HOST_END_FAILED = 3;

/**
 * Connects the network namespace of `pid` (the sandbox's PID 1) to this machine by a veth pair, as `policy` says.
 * The pair disappears with the namespace.
 */
export async function connectSandbox(pid: number, policy: NetworkPolicy): Promise<void> {
  if (policy.kind === 'blocked') return;
  const routes =
    policy.kind === 'open'
      ? [`route add default via ${INTERNET_ADDRESS} dev eth0 onlink`]
      : policy.cidrs.map((cidr) => `route add ${cidr} via ${INTERNET_ADDRESS} dev eth0 onlink`);
  for (let attempt = 0; ; attempt++) {
    const hostEnd = `mdl${randomBytes(5).toString('hex')}`;
    const address = `${SANDBOX_RANGE[0]}.${SANDBOX_RANGE[1]}.${randomInt(0, 256)}.${randomInt(1, 255)}`;
    const { code, stderr } = await runWithInput(
      ['sh', '-c', CONNECT_SCRIPT, 'modal-emulator-network', hostEnd, String(pid), address],
      [`addr add ${address}/32 dev eth0`, 'link set eth0 up', ...routes],
    );
    if (code === 0) return;
    if (code === HOST_END_FAILED && attempt < 5) continue;
    throw new Error(`sandbox network: ${stderr.trim() || `exit ${code}`}`);
  }
}

function runWithInput(argv: string[], lines: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.stdin.on('error', () => undefined); // a tool that exits early fails the run through its exit code
    child.on('close', (code) => resolve({ code, stderr }));
    child.stdin.end(`${lines.join('\n')}\n`);
  });
}

export interface Published {
  /** What a sandbox uses: `http://198.18.0.1:<port>`. */
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

/**
 * Makes a service of this machine reachable from sandboxes (what an ingress or a tunnel does in production): a TCP
 * forwarder on the internet address to `targetHost:targetPort`. `publicPort` 0 picks a free one.
 */
export async function publish(targetPort: number, { targetHost = '127.0.0.1', publicPort = 0 } = {}): Promise<Published> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((inbound) => {
    const outbound = net.connect(targetPort, targetHost);
    for (const socket of [inbound, outbound]) {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    }
    inbound.pipe(outbound).pipe(inbound);
    inbound.on('error', () => outbound.destroy());
    outbound.on('error', () => inbound.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(publicPort, INTERNET_ADDRESS, () => resolve());
  });
  const port = (server.address() as net.AddressInfo).port;
  return {
    url: `http://${INTERNET_ADDRESS}:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
