/** The JSON-RPC messages in an SSE body: the `data:` lines of each event, joined. Runtime-neutral (workerd and Node tests). */
export function parseSseMessages(text: string): Array<Record<string, any>> {
  const messages: Array<Record<string, any>> = [];
  for (const block of text.split(/\r?\n\r?\n/)) {
    const data = block
      .split(/\r?\n/)
      .filter((line) => line.startsWith("data:"))
      .map((line) => line.slice(5).replace(/^ /, ""))
      .join("\n");
    if (data.trim()) messages.push(JSON.parse(data));
  }
  return messages;
}
