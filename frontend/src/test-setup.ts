// Test setup for jsdom, which has no layout: CodeMirror measures text
// through ranges, which jsdom creates but cannot measure. Empty rectangles
// are what an unlaid-out page would give.
const noRects = () => Object.assign([], { item: () => null }) as unknown as DOMRectList;
const emptyRect = () => new DOMRect(0, 0, 0, 0);
Range.prototype.getClientRects ??= noRects;
Range.prototype.getBoundingClientRect ??= emptyRect;
