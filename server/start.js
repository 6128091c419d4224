// `npm start`: the DreamCore server arrives with the server issue. Until then this says so plainly.
console.log(
  [
    'DreamCore Runtime',
    '',
    'The server (Express + WebSocket, demo mode, embedded database) is not built yet.',
    'What works today is the library: @dreamcore/runtime-core and @dreamcore/backend-local.',
    'Run `npm test` to see the conformance suite pass on the local backend.',
  ].join('\n'),
);
