// The nodes CML 0.20.6 publishes from (src/cml.js publishLocalFiles): remark 13 parses the markdown and
// unist-util-visit 2 collects every definition, image and link, in document order. Prints [{url, title}].
const fs = require("fs");
const remark = require("remark");
const visit = require("unist-util-visit");

const tree = remark().parse(fs.readFileSync(process.argv[2], "utf-8"));
const nodes = [];
visit(tree, ["definition", "image", "link"], (node) => {
  nodes.push({ url: node.url || "", title: node.title || "" });
});
process.stdout.write(JSON.stringify(nodes));
