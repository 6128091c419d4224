// Every area of the catalogue (docs/i18n.md). A new area: a file here, and one line below.
import account from './account.js';
import app from './app.js';
import assets from './assets.js';
import chat from './chat.js';
import code from './code.js';
import common from './common.js';
import editor from './editor.js';
import errors from './errors.js';
import movie from './movie.js';
import notifications from './notifications.js';
import offline from './offline.js';
import play from './play.js';
import preview from './preview.js';
import profile from './profile.js';
import projects from './projects.js';
import publish from './publish.js';
import publishHelp from './publishHelp.js';
import remix from './remix.js';
import signin from './signin.js';
import versions from './versions.js';

export const AREAS = {
  account,
  app,
  assets,
  chat,
  code,
  common,
  editor,
  errors,
  movie,
  notifications,
  offline,
  play,
  preview,
  profile,
  projects,
  publish,
  publishHelp,
  remix,
  signin,
  versions,
};
