// An independent client for interoperability tests: the official Azure JS
// SDK (@azure/storage-blob) reads what cairn wrote and writes what cairn
// reads. Azurite must run with --skipApiVersionCheck for it.
//
//   node sdk_interop.js list CONNECTION CONTAINER PREFIX   -> "name size md5-base64" lines
//   node sdk_interop.js get  CONNECTION CONTAINER BLOB     -> the content, base64
//   node sdk_interop.js put  CONNECTION CONTAINER BLOB BASE64
// NODE_PATH must name the node_modules folder holding @azure/storage-blob.
"use strict";
const { BlobServiceClient } = require("@azure/storage-blob");

async function main() {
  const [mode, conn, containerName, arg, data] = process.argv.slice(2);
  const container = BlobServiceClient.fromConnectionString(conn).getContainerClient(containerName);
  if (mode === "list") {
    for await (const b of container.listBlobsFlat({ prefix: arg })) {
      const md5 = b.properties.contentMD5 ? Buffer.from(b.properties.contentMD5).toString("base64") : "-";
      console.log(`${b.name} ${b.properties.contentLength} ${md5}`);
    }
  } else if (mode === "get") {
    const buf = await container.getBlobClient(arg).downloadToBuffer();
    process.stdout.write(buf.toString("base64"));
  } else if (mode === "put") {
    const buf = Buffer.from(data, "base64");
    await container.getBlockBlobClient(arg).upload(buf, buf.length);
  } else {
    throw new Error(`unknown mode ${mode}`);
  }
}

main().catch((e) => {
  console.error(e.message);
  process.exit(1);
});
