// The parts of a V8 .cpuprofile (--cpu-prof) the profile tools read, and how a frame is named in their output.

export interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

export interface Profile {
  nodes: ProfileNode[];
  /** µs, on the monotonic clock process.hrtime reads. */
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** `function src/path.js:line`: the url cut to the project's (or a package's) own path. */
export function frameLabel(node: ProfileNode): string {
  const url = node.callFrame.url.replace(/^.*\/(src|workers|node_modules)\//, '$1/').replace(/^file:\/\//, '');
  return `${node.callFrame.functionName || '(anonymous)'} ${url}${url ? `:${node.callFrame.lineNumber + 1}` : ''}`;
}
