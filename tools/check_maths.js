// Typeset every maths expression of the website with the site's own MathJax (in Node.js,
// its liteDOM adaptor) and print those it cannot typeset, as JSON [[index, message], ...].
// Undefined macros count as errors here (the browser would show them in red).
//     node tools/check_maths.js <mathjax es5 folder> <items.json: [[index, tex, display], ...]>
// Run by tools/build_site.py after each Sphinx build.
const [mathjax, input] = process.argv.slice(2);
const items = JSON.parse(require('fs').readFileSync(input, 'utf8'));
global.MathJax = {
  loader: {paths: {mathjax}, load: ['input/tex', 'adaptors/liteDOM'], require: require},
  tex: {packages: {'[-]': ['noundefined']}},
  startup: {typeset: false},
};
require(mathjax + '/startup.js');
MathJax.startup.promise.then(async () => {
  const errors = [];
  for (const [i, tex, display] of items) {
    try {
      const mml = await MathJax.tex2mmlPromise(tex, {display});
      const m = mml.match(/data-mjx-error="([^"]*)"/) || (mml.includes('<merror') ? [0, 'error'] : null);
      if (m) errors.push([i, m[1]]);
    } catch (e) { errors.push([i, String(e.message || e)]); }
  }
  process.stdout.write(JSON.stringify(errors));
}).catch(e => { console.error(e); process.exit(2); });
