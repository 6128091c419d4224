/**
 * The tools of one agent run, served as an MCP server (Streamable HTTP, stateless) by the key proxy at `/mcp`: the
 * official MCP SDK speaks the protocol; the CLI connects to it through `--mcp-config` (cli.ts) with the run's token.
 * Handlers run here, in the backend's process. A new MCP server per HTTP request is the SDK's stateless pattern:
 * every request carries the token, so nothing outlives a run.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { createError } from '../errors.js';
import type { AgentTool } from '../contract.js';
import { AGENT_TOOL_SERVER } from './instructions.js';

export const TOOL_NAME = /^[a-z][a-z0-9_]{0,47}$/;

/** The name the CLI gives a tool of ours (what `--allowedTools` lists and what `tool_use` events carry). */
export function agentToolName(tool: Pick<AgentTool, 'name'>): string {
  return `mcp__${AGENT_TOOL_SERVER}__${tool.name}`;
}

/** Bad tool definitions are the caller's bug: refused before anything runs. */
export function validateTools(tools: unknown): void {
  if (tools === undefined) return;
  if (!Array.isArray(tools)) throw createError('INVALID_ARGUMENT', 'tools is an array');
  const seen = new Set<string>();
  for (const tool of tools as AgentTool[]) {
    if (typeof tool?.name !== 'string' || !TOOL_NAME.test(tool.name)) throw createError('INVALID_ARGUMENT', 'a tool name is [a-z][a-z0-9_]{0,47}');
    if (seen.has(tool.name)) throw createError('INVALID_ARGUMENT', `tool ${tool.name} is given twice`);
    seen.add(tool.name);
    if (typeof tool.description !== 'string' || tool.description.trim() === '') throw createError('INVALID_ARGUMENT', `tool ${tool.name} needs a description`);
    if (typeof tool.inputSchema !== 'object' || tool.inputSchema === null || (tool.inputSchema as { type?: unknown }).type !== 'object') {
      throw createError('INVALID_ARGUMENT', `tool ${tool.name}: inputSchema is a JSON Schema of type object`);
    }
    if (typeof tool.handler !== 'function') throw createError('INVALID_ARGUMENT', `tool ${tool.name} needs a handler`);
  }
}

const MAX_RESULT_CHARS = 20_000;

/** Answers one MCP HTTP request for a run's tools. `runSignal` aborts when the run ends. */
export async function serveTools(req: IncomingMessage, res: ServerResponse, tools: readonly AgentTool[], runSignal: AbortSignal): Promise<void> {
  // The SDK (with ajv, zod-to-json-schema and hono behind it) is loaded by the first tool call, not with the package:
  // every process that imports runtime-core would otherwise pay ~0.3 s of CPU for it, most never serving a tool.
  const [{ Server }, { StreamableHTTPServerTransport }, { CallToolRequestSchema, ListToolsRequestSchema }] = await Promise.all([
    import('@modelcontextprotocol/sdk/server/index.js'),
    import('@modelcontextprotocol/sdk/server/streamableHttp.js'),
    import('@modelcontextprotocol/sdk/types.js'),
  ]);
  const server = new Server({ name: AGENT_TOOL_SERVER, version: '1.0.0' }, { capabilities: { tools: {} } });
  server.setRequestHandler(ListToolsRequestSchema, () => ({
    tools: tools.map((tool) => ({ name: tool.name, description: tool.description, inputSchema: tool.inputSchema as { type: 'object' } })),
  }));
  server.setRequestHandler(CallToolRequestSchema, async (request, extra): Promise<CallToolResult> => {
    const tool = tools.find((t) => t.name === request.params.name);
    if (!tool) return { content: [{ type: 'text', text: `Unknown tool: ${request.params.name}` }], isError: true };
    const signal = AbortSignal.any([runSignal, extra.signal]);
    try {
      const answer = await tool.handler(request.params.arguments ?? {}, { signal });
      const { text, isError } = typeof answer === 'string' ? { text: answer, isError: false } : answer;
      return { content: [{ type: 'text', text: text.slice(0, MAX_RESULT_CHARS) }], isError: isError === true };
    } catch (error) {
      return { content: [{ type: 'text', text: error instanceof Error ? error.message : String(error) }], isError: true };
    }
  });
  const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
  res.on('close', () => {
    void transport.close();
    void server.close();
  });
  await server.connect(transport);
  await transport.handleRequest(req, res);
}
