/**
 * Finds words for people written into the browser app's code instead of its catalogue (public/js/i18n, docs/i18n.md).
 *
 * JavaScript is parsed (TypeScript's parser), and only what reaches the screen is looked at: the children and the
 * visible attributes (title, placeholder, aria-label, alt, label) of `h(…)`, assignments to textContent / innerHTML /
 * title / placeholder, setAttribute of a visible attribute, what toast/alert/showError/… and append/prepend are given,
 * the messages of Errors, and dialog and share options (title, message, label, confirmLabel, text). A text there is a
 * violation when it has a word (two letters or more) other than the names in ALLOWED_WORDS. So CSS classes, ids, URLs,
 * event names and message types never count: they are not in those places. Anywhere in the code, a sentence (three
 * words or more: in a variable, a table, a return value) and Japanese, Chinese or Korean text (the old "English 日本語"
 * glosses) are violations. A line that must keep such text says why with `// i18n-ignore: …`.
 *
 * HTML: a text node or a visible attribute (and a description <meta>) with a word needs `data-i18n` /
 * `data-i18n-<attribute>` on its element.
 */
import ts from 'typescript';

export interface Finding {
  file: string;
  line: number;
  text: string;
}

/** Names that are the same in every language. */
export const ALLOWED_WORDS = ['DreamCore', 'ANTHROPIC_API_KEY'];

const VISIBLE_ATTRIBUTES = new Set(['title', 'placeholder', 'aria-label', 'alt', 'label', 'aria-description', 'aria-valuetext']);
const VISIBLE_PROPERTIES = new Set(['textContent', 'innerText', 'innerHTML', 'outerHTML', 'title', 'placeholder', 'alt', 'ariaLabel']);
/** Functions that show an argument: the argument's position. */
const SHOWING_CALLS = new Map([
  ['toast', 0],
  ['alert', 0],
  ['confirm', 0],
  ['prompt', 0],
  ['showError', 0],
  ['showNote', 0],
  ['denied', 0],
  ['notFound', 0],
  ['setStatus', 1],
  ['addMessage', 1],
  ['withBusy', 1],
  ['createTextNode', 0],
  ['Option', 0],
]);
/** Calls that show an argument whatever object they are called on (`window.confirm(…)`, `document.createTextNode(…)`). */
const SHOWING_ANYWHERE = new Set(['alert', 'confirm', 'prompt', 'createTextNode']);
/** Methods that put their arguments into the page (not those of a FormData, URLSearchParams or Headers). */
const SHOWING_METHODS = new Set(['append', 'prepend', 'after', 'before', 'replaceWith', 'replaceChildren', 'insertAdjacentText', 'insertAdjacentHTML']);
const ERRORS = new Set(['Error', 'TypeError', 'ApiError', 'AuthError']);
/** Option names of the dialogs (openDialog, confirmDialog, promptDialog) and their buttons. */
const SHOWN_OPTIONS = new Set(['title', 'message', 'label', 'confirmLabel', 'cancelLabel', 'placeholder', 'body', 'text']);
/**
 * A sentence (three words or more) is for people wherever it is written: held in a variable, a table or a return
 * value before it reaches the screen, where the places above do not see it. Only class lists look like one.
 */
const SENTENCE = /\p{L}{2,}[,']? \p{L}+[,'.!?…]? \p{L}+/u;
const CJK = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}]/u;

/** The words of a text that are not allowed (empty when it has none). */
export function strayWords(text: string): string[] {
  let rest = text;
  for (const word of ALLOWED_WORDS) rest = rest.split(word).join(' ');
  const words = rest.match(/\p{L}{2,}/gu) ?? [];
  return CJK.test(rest) && words.length === 0 ? [rest.trim()] : words;
}

function propertyName(name: ts.PropertyName): string | null {
  if (ts.isIdentifier(name) || ts.isStringLiteral(name) || ts.isNoSubstitutionTemplateLiteral(name)) return name.text;
  return null;
}

function calleeName(expr: ts.Expression): string | null {
  if (ts.isIdentifier(expr)) return expr.text;
  if (ts.isPropertyAccessExpression(expr)) return expr.name.text;
  return null;
}

export function scanScript(file: string, source: string): Finding[] {
  const sf = ts.createSourceFile(file, source, ts.ScriptTarget.Latest, true, ts.ScriptKind.JS);
  const lines = source.split('\n');
  const findings: Finding[] = [];
  const seen = new Set<ts.Node>();
  // Variables holding a FormData / URLSearchParams / Headers: their append(name, value) shows nothing.
  const notDom = new Set<string>();
  const collect = (node: ts.Node): void => {
    if (ts.isVariableDeclaration(node) && ts.isIdentifier(node.name) && node.initializer && ts.isNewExpression(node.initializer)) {
      const made = calleeName(node.initializer.expression);
      if (made === 'FormData' || made === 'URLSearchParams' || made === 'Headers') notDom.add(node.name.text);
    }
    ts.forEachChild(node, collect);
  };
  collect(sf);
  const ignored = (node: ts.Node) => {
    const line = sf.getLineAndCharacterOfPosition(node.getStart(sf)).line;
    return /i18n-ignore/.test(lines[line] ?? '');
  };
  const report = (node: ts.Node, text: string) => {
    if (seen.has(node) || ignored(node)) return;
    seen.add(node);
    findings.push({ file, line: sf.getLineAndCharacterOfPosition(node.getStart(sf)).line + 1, text });
  };

  /** The literal texts an expression shows (both sides of a ?:, a +, a ||, a template's fixed parts, an array). */
  const shown = (expr: ts.Node | undefined): void => {
    if (!expr) return;
    if (ts.isStringLiteral(expr) || ts.isNoSubstitutionTemplateLiteral(expr)) {
      if (strayWords(expr.text).length > 0) report(expr, expr.text);
    } else if (ts.isTemplateExpression(expr)) {
      const fixed = [expr.head.text, ...expr.templateSpans.map((span) => span.literal.text)].join(' ');
      if (strayWords(fixed).length > 0) report(expr, expr.getText(sf));
      for (const span of expr.templateSpans) shown(span.expression);
    } else if (ts.isConditionalExpression(expr)) {
      shown(expr.whenTrue);
      shown(expr.whenFalse);
    } else if (ts.isBinaryExpression(expr)) {
      const op = expr.operatorToken.kind;
      if (op === ts.SyntaxKind.PlusToken || op === ts.SyntaxKind.BarBarToken || op === ts.SyntaxKind.QuestionQuestionToken) shown(expr.left);
      if (
        op === ts.SyntaxKind.PlusToken ||
        op === ts.SyntaxKind.BarBarToken ||
        op === ts.SyntaxKind.QuestionQuestionToken ||
        op === ts.SyntaxKind.AmpersandAmpersandToken
      )
        shown(expr.right);
    } else if (ts.isParenthesizedExpression(expr) || ts.isAsExpression(expr) || ts.isSpreadElement(expr)) {
      shown(expr.expression);
    } else if (ts.isArrayLiteralExpression(expr)) {
      expr.elements.forEach(shown);
    }
  };

  /** A sentence-like literal, unless it is a property's name, a class list, an `import` source or a console note. */
  const sentence = (node: ts.Node, text: string): boolean => {
    if (!SENTENCE.test(text.replace(/\s+/g, ' '))) return false;
    const parent = node.parent;
    if (ts.isPropertyAssignment(parent) && parent.name === node) return false;
    if (ts.isPropertyAssignment(parent) && /^(class|className)$/.test(propertyName(parent.name) ?? '')) return false;
    if (ts.isImportDeclaration(parent) || ts.isExportDeclaration(parent)) return false;
    // A note for developers in the console.
    if (ts.isCallExpression(parent) && ts.isPropertyAccessExpression(parent.expression) && parent.expression.expression.getText(sf) === 'console') return false;
    return true;
  };

  const visit = (node: ts.Node): void => {
    // Japanese, Chinese or Korean anywhere in the code.
    if (
      (ts.isStringLiteral(node) ||
        ts.isNoSubstitutionTemplateLiteral(node) ||
        ts.isTemplateHead(node) ||
        ts.isTemplateMiddle(node) ||
        ts.isTemplateTail(node)) &&
      CJK.test(node.text)
    ) {
      report(node, node.text);
    }
    if ((ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) && sentence(node, node.text)) report(node, node.text);
    if (ts.isTemplateExpression(node)) {
      const fixed = [node.head.text, ...node.templateSpans.map((span) => span.literal.text)].join(' ');
      if (sentence(node, fixed)) report(node, node.getText(sf));
    }
    if (ts.isCallExpression(node) || ts.isNewExpression(node)) {
      const name = calleeName(node.expression);
      const args = node.arguments ?? ts.factory.createNodeArray();
      if (name === 'h' && ts.isCallExpression(node)) {
        const attrs = args[1];
        if (attrs && ts.isObjectLiteralExpression(attrs)) {
          for (const prop of attrs.properties) {
            if (ts.isPropertyAssignment(prop) && VISIBLE_ATTRIBUTES.has(propertyName(prop.name) ?? '')) shown(prop.initializer);
          }
        }
        args.slice(2).forEach(shown);
      } else if (ts.isNewExpression(node) && name && ERRORS.has(name)) {
        shown(args[0]);
      } else if (ts.isCallExpression(node) && name === 'setAttribute' && args[0] && ts.isStringLiteral(args[0]) && VISIBLE_ATTRIBUTES.has(args[0].text)) {
        shown(args[1]);
      } else if (
        name &&
        SHOWING_CALLS.has(name) &&
        (ts.isIdentifier(node.expression) || SHOWING_ANYWHERE.has(name)) &&
        (ts.isCallExpression(node) || name === 'Option')
      ) {
        shown(args[SHOWING_CALLS.get(name)!]);
      } else if (ts.isCallExpression(node) && name && ts.isPropertyAccessExpression(node.expression) && SHOWING_METHODS.has(name)) {
        const receiver = node.expression.expression;
        if (!(ts.isIdentifier(receiver) && notDom.has(receiver.text))) args.forEach(shown);
      }
    } else if (ts.isBinaryExpression(node) && node.operatorToken.kind === ts.SyntaxKind.EqualsToken && ts.isPropertyAccessExpression(node.left)) {
      if (VISIBLE_PROPERTIES.has(node.left.name.text)) shown(node.right);
    } else if (ts.isPropertyAssignment(node) && SHOWN_OPTIONS.has(propertyName(node.name) ?? '')) {
      shown(node.initializer);
    } else if (ts.isBindingElement(node) && node.initializer && SHOWN_OPTIONS.has(ts.isIdentifier(node.name) ? node.name.text : '')) {
      // The defaults of dialog options: ({ confirmLabel = 'OK' }) => …
      shown(node.initializer);
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return findings;
}

const VOID = new Set(['area', 'base', 'br', 'col', 'embed', 'hr', 'img', 'input', 'link', 'meta', 'source', 'track', 'wbr']);

function attributes(tag: string): Map<string, string> {
  const attrs = new Map<string, string>();
  for (const m of tag.matchAll(/([\w:-]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+)))?/g)) attrs.set(m[1]!.toLowerCase(), m[2] ?? m[3] ?? m[4] ?? '');
  return attrs;
}

export interface HtmlScan {
  findings: Finding[];
  /** Every `data-i18n*` key with the text written in the file (the English the page shows before its script runs). */
  keys: Array<{ key: string; text: string; line: number }>;
}

export function scanHtml(file: string, source: string): HtmlScan {
  const findings: Finding[] = [];
  const keys: HtmlScan['keys'] = [];
  const lineOf = (index: number) => source.slice(0, index).split('\n').length;
  const text = source.replace(/<!--[\s\S]*?-->|<!doctype[^>]*>|<script[\s\S]*?<\/script>|<style[\s\S]*?<\/style>/gi, (m) => m.replace(/[^\n]/g, ' '));
  const stack: Array<{ name: string; attrs: Map<string, string> }> = [];
  const tokens = /<(\/?)([a-zA-Z][\w-]*)([^>]*)>|([^<]+)/g;
  for (const m of text.matchAll(tokens)) {
    if (m[4] !== undefined) {
      const words = m[4].trim();
      if (!words) continue;
      const parent = stack.at(-1);
      const key = parent?.attrs.get('data-i18n');
      if (key) keys.push({ key, text: words, line: lineOf(m.index!) });
      else if (strayWords(words).length > 0) findings.push({ file, line: lineOf(m.index!), text: words });
      continue;
    }
    const [, closing, rawName, rest] = m;
    const name = rawName!.toLowerCase();
    if (closing) {
      const at = stack.map((e) => e.name).lastIndexOf(name);
      if (at >= 0) stack.length = at;
      continue;
    }
    const attrs = attributes(rest ?? '');
    const visible = [...VISIBLE_ATTRIBUTES, ...(name === 'meta' && attrs.get('name') === 'description' ? ['content'] : [])];
    for (const attr of visible) {
      const value = attrs.get(attr);
      if (value === undefined) continue;
      const key = attrs.get(`data-i18n-${attr}`);
      if (key) keys.push({ key, text: value, line: lineOf(m.index!) });
      else if (strayWords(value).length > 0) findings.push({ file, line: lineOf(m.index!), text: `${attr}="${value}"` });
    }
    if (!VOID.has(name) && !rest?.trim().endsWith('/')) stack.push({ name, attrs });
  }
  return { findings, keys };
}
