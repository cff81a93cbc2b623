// Package transfer moves files between the two sides of a support session,
// in both directions, with the receiving person in charge: the transfer
// engine both the agent console and the customer client use.
//
// # Protocol
//
// Offers and answers travel on the session's control stream (FileOffer,
// FileAnswer, FileCancel, FileDone in shared/protocol); no byte of a file
// moves before the receiver accepted it. Each accepted file then gets a
// QUIC stream of its own (StreamFile): a FileStreamHead frame naming the
// file, the byte it starts from and the check that ends the stream, the
// bytes, and that check of the whole file: the CRC-32C the receiver asks
// for (or the SHA-256, for a receiver that does not ask). The sender offers every file of a batch at once and the receiver
// answers each as soon as it is decided, so many small files cost one round
// trip in all, not one each.
//
// # Receiving
//
// A received file lands in a temporary file (PartialPrefix + id) at the top
// of the session's download folder, opened through an os.Root so no name
// can write outside it. The receiver hashes what it writes with SHA-256
// itself. When the last byte is in, the stream's closing check (and the
// offer's SHA-256, if it carried one) is compared, the file is synced and renamed to its cleaned name (CleanName,
// UniqueName), and the database records it as done in the same step, before
// the sender hears it arrived. A partial file never has a name that looks
// complete.
//
// On Linux, before the first byte is written, the receiver checks that the
// rest of the file fits in the disk's free space and sets its blocks aside
// (fallocate, keeping the file's size): a file that does not fit fails at
// once with both sizes, and one that does usually cannot run out of room
// halfway (quotas and other programs writing meanwhile still can). A cut
// file gives the blocks back while it waits.
//
// # Dedup and resume
//
// The sender offers a file's SHA-256 when it knows it (it remembers the
// hashes of the files it sent, by path, size and modification time). A
// first-time send does not wait for it: the first byte moves at once. While the
// receiver decides, the sender hashes ahead and offers again with the hash
// if that is done first. A small file is hashed as it streams; a big one,
// whose bytes end with a CRC-32C, is hashed after the receiver has it (the
// two ends of a connection often share a machine's cores, and the hash
// would slow the transfer). The receiver's FileDone carries its own SHA-256
// of what it stored; the sender shows it but never offers it, as a hostile
// receiver could lie. An offer of a file that is being hashed so waits for
// the hash (about a second per GB), so sending it again right after it
// arrived moves no bytes; a hash cut short by the app quitting is not taken
// up again. Engine.Settle waits for this background hashing. A receiver
// that holds that content already answers "have" and no byte moves; the
// existing copy is shown. The sender learns this only from an accepting
// answer, so it cannot probe what the receiver holds without the receiver
// accepting the file.
//
// The same content under another name (a copy, a renamed file) is found
// without making a first-time send wait for a whole-file hash: an offer of
// a file over 128 KiB sent alone carries the file's edges (EdgesHash: its
// size and its first and last 64 KiB, read at once); one of a smaller file
// sent alone, read whole anyway, its SHA-256. A folder's files go with
// neither the first time, so the tree arrives whole and is not pointed at
// copies elsewhere. A receiver holding an unchanged received file with
// the same size and edges (the edges index, of what it stored, read back
// from its own disk) answers accepted with hash_first; the sender then
// hashes the whole file and offers it again with its SHA-256 before any
// byte moves, and the receiver answers have (the content matched its own
// SHA-256 index) or asks for the bytes. A sender that ignores hash_first
// simply streams, and the receiver takes the bytes.
//
// The receiver checkpoints a file's progress (bytes written and the SHA-256
// state) as it goes and exactly when a transfer is cut. When the peers are
// connected again, or after either app restarts, the sender offers each
// unfinished file again under the same id, and the receiver answers with
// the byte to continue from; the person is not asked again. The kept part
// comes from the disk, not from the run that wrote it, so a resumed file is
// read back whole and hashed once more before it is placed: a part lost
// when the computer stopped, or changed meanwhile, fails the file rather
// than passing for it.
//
// # Database
//
// The engine keeps its state in the app's bbolt database (appdb, schema 4):
//
//	transfers  file id -> JSON Transfer (both directions)
//	contents   hex SHA-256 -> JSON []string of transfer ids holding it
//	trust      sender name -> "accept_all" | "refuse_always" | "blocked"
//	hashes     path NUL size NUL mtime (ns) -> hex SHA-256 (sender side)
//	settings   "receive" -> "on" | "off"; "folder/<session>" -> folder;
//	           "first/<session>" -> the first sender's name
//	edges      8-byte big-endian size + 32-byte edges hash -> JSON []string
//	           of received files with them (receiver side; files received
//	           before schema 3 are found by their SHA-256 only)
package transfer
