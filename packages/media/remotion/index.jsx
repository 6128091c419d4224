// Entry point for @remotion/bundler. Compiled by the bundler itself (never by tsc), so it stays plain JSX:
// the repository has no React type definitions and needs none for this.
import { registerRoot } from 'remotion';
import { Root } from './Root.jsx';

registerRoot(Root);
