/**
 * Images are built from their recipe, through the real SDK: a sandbox has what its recipe installs and nothing else;
 * what the emulator cannot build here (an unknown step, a package this machine lacks, another pinned version) fails
 * the build with a message that says why, as a failed build on Modal does; named images publish and resolve.
 */
import { describe, expect, it } from 'vitest';
import { CLAUDE_CODE_VERSION } from '../src/index.js';
import { emulatorPrerequisites } from '../src/emulator/index.js';
import { useEmulatorSdk } from './support/sdk.js';

const lane = emulatorPrerequisites().ok ? describe : describe.skip;
const APT = (packages: string) => `RUN apt-get update && apt-get install -y --no-install-recommends ${packages} && rm -rf /var/lib/apt/lists/*`;

lane('Modal emulator images (real SDK)', () => {
  const { client, modal, app } = useEmulatorSdk('images-test');

  async function run(commands: string[], script: string, base = 'node:20-bookworm-slim') {
    const image = client().images.fromRegistry(base).dockerfileCommands(commands);
    const sb = await client().sandboxes.create(app(), image, { timeoutMs: 60_000 });
    try {
      const proc = await sb.exec(['sh', '-c', script], { stdout: 'pipe', stderr: 'pipe' });
      const [stdout, stderr, code] = await Promise.all([proc.stdout.readText(), proc.stderr.readText(), proc.wait()]);
      return { stdout, stderr, code };
    } finally {
      await sb.terminate();
    }
  }

  it('a sandbox has what its recipe installs, where the recipe installs it, and nothing else', async () => {
    const full = await run(
      [APT('git procps'), `RUN npm install -g @anthropic-ai/claude-code@${CLAUDE_CODE_VERSION} && claude --version`],
      'for c in node claude git pkill; do command -v $c; done; node --version; claude --version',
    );
    expect(full.code).toBe(0);
    expect(full.stdout).toContain('/usr/local/bin/node\n/usr/local/bin/claude\n/usr/bin/git\n/usr/bin/pkill\nv20.');
    expect(full.stdout).toContain(CLAUDE_CODE_VERSION);
    // Without git in the recipe there is no git, even though this machine has one.
    const bare = await run([], 'git --version', 'debian:bookworm-slim');
    expect(bare.code).toBe(127);
    const noNode = await run([], 'node --version', 'debian:bookworm-slim');
    expect(noNode.code).toBe(127);
  });

  it('what cannot be built here fails the build, saying why', async () => {
    const failures: [string[], string, RegExp][] = [
      [['RUN curl -fsSL https://example.com/install.sh | sh'], 'node:20-bookworm-slim', /not a step the emulator can build/],
      [[APT('definitely-not-a-package')], 'node:20-bookworm-slim', /definitely-not-a-package: not installed on this machine/],
      [
        ['RUN npm install -g @anthropic-ai/claude-code@2.0.0'],
        'node:20-bookworm-slim',
        new RegExp(`this checkout has @anthropic-ai/claude-code ${CLAUDE_CODE_VERSION.replace(/\./g, '\\.')}`),
      ],
      [['RUN npm install -g @anthropic-ai/claude-code'], 'node:20-bookworm-slim', /pin an exact version/],
      [[], 'alpine:3.20', /alpine:3.20 cannot be built here/],
    ];
    for (const [commands, base, reason] of failures) {
      const image = client().images.fromRegistry(base).dockerfileCommands(commands);
      const error = await image.build(app()).then(
        () => undefined,
        (e: unknown) => e as Error,
      );
      expect(error?.message, `${base} ${commands.join(' ')}`).toMatch(/^Image build for im-\S+ failed with the exception:/);
      expect(error?.message).toMatch(reason);
      await expect(client().sandboxes.create(app(), client().images.fromRegistry(base).dockerfileCommands(commands))).rejects.toThrow(reason);
    }
  });

  it('a published image is found by name; an unpublished name is NotFoundError', async () => {
    const image = await client()
      .images.fromRegistry('debian:bookworm-slim')
      .dockerfileCommands([APT('procps')])
      .build(app());
    await image.publish('emulator-test-image:v1');
    expect((await client().images.fromName('emulator-test-image:v1')).imageId).toBe(image.imageId);
    await expect(client().images.fromName('emulator-test-image:v2')).rejects.toBeInstanceOf(modal().NotFoundError);
    const sb = await client().sandboxes.create(app(), await client().images.fromName('emulator-test-image:v1'), { timeoutMs: 60_000 });
    try {
      const proc = await sb.exec(['pgrep', '-x', 'sleep'], { stdout: 'pipe' });
      expect(await proc.wait()).toBe(0);
    } finally {
      await sb.terminate();
    }
  });
});
