// A guard for the vendored stb_image 2.27 JPEG decoder, which trusts a Huffman table's 16 code
// counts: a DHT table declaring more than 256 codes makes stbi__build_huffman write past its
// arrays. The check replays stb's own marker-level parse so that it sees every DHT stb would build.
#pragma once
#include <cstddef>

namespace pomt {

// False when some DHT table that stb_image would build (from stbi_info or a full decode) declares
// more than 256 codes. Follows stb's reading rules rather than the JPEG standard's: reads past the
// end give zeros (so a segment longer than the file is still checked), fill bytes and junk between
// segments are skipped, and every table after every scan is checked. Where stb would stop with an
// error the walk goes on, so it checks a superset of what stb reads.
bool stb_jpeg_huffman_tables_ok(const unsigned char* bytes, size_t size);

}  // namespace pomt
