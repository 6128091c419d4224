/**
 * The two images the Modal backend runs on, and how it finds them: built and published by `dreamcore-modal deploy`
 * under a name that carries a hash of the recipe (`<app>-user:<hash>`, `<app>-render:<hash>`), looked up by that name
 * (`images.fromName`, one RPC, cached). A name is never rebuilt implicitly (Modal's named images), so the server
 * never builds an image on a user's request: an image that was not deployed is NOT_CONFIGURED, naming the command.
 */
import { createHash } from 'node:crypto';
import type { Image, ModalClient } from 'modal';
import { createError } from '@dreamcore/runtime-core';
import { errorClass, modalFailure, withDeadline } from './client.js';
import type { ResolvedModalConfig } from './config.js';

export type ImageRole = 'user' | 'render';

export interface ImageSpec {
  role: ImageRole;
  base: string;
  commands: string[];
  /** `<app>-<role>:<first 16 hex of the recipe's sha256>` */
  name: string;
}

export const DEPLOY_COMMAND = 'npm run modal:deploy';

export function imageSpec(config: ResolvedModalConfig, role: ImageRole): ImageSpec {
  const base = config.sandbox.baseImage;
  const commands = role === 'user' ? config.sandbox.imageCommands : config.video.imageCommands;
  const hash = createHash('sha256')
    .update(JSON.stringify([base, commands]))
    .digest('hex')
    .slice(0, 16);
  return { role, base, commands, name: `${config.appName}-${role}:${hash}` };
}

/** The deployed image for `role`, by name: NOT_CONFIGURED if `dreamcore-modal deploy` has not published it. */
export async function deployedImage(client: ModalClient, config: ResolvedModalConfig, role: ImageRole): Promise<Image> {
  const { name } = imageSpec(config, role);
  try {
    return await withDeadline(config.deadlines.rpcMs, `looking up the ${role} image`, () =>
      client.images.fromName(name, config.environment ? { environment: config.environment } : {}),
    );
  } catch (error) {
    if (errorClass(error) === 'NotFoundError') {
      throw createError(
        'NOT_CONFIGURED',
        `the ${role} sandbox image ${name} is not deployed: run \`${DEPLOY_COMMAND}\` (it builds the images ahead of users)`,
        {
          details: { image: name, command: DEPLOY_COMMAND },
        },
      );
    }
    throw modalFailure(error, `looking up the ${role} image`);
  }
}
