// Package tailer reads log files line by line, exactly once per run, and
// says with every line where to resume after it. It knows nothing of MTAs,
// parsing or storage.
//
// # The contract with the caller
//
// Every event carries Pos, the position just past it, and Pos.Path, the key
// to store it under. The caller commits its counts and the Pos of the last
// event it handled in one transaction, deletes the key on a Gone event, and on
// start hands all the committed positions to New (those of paths no longer
// in the inputs too: see parking below). A kill at any moment then loses
// nothing and counts nothing twice: lines after the last commit are read
// again, lines before it are not. Header events carry a position too (where
// reading starts); commit it like the others, it is what keeps a file renamed
// within the inputs from being read again from 0. Open events carry the
// position 0 of a file that nothing else names yet: an empty file just
// followed, or the file that takes over a key right after its previous one
// was finished (instead of that Gone, so no committed prefix leaves the key
// naming nothing while the new file is read). The Open of an empty file
// carries Pos.EmptySince, the file's modification time when it was seen
// empty.
//
// A saved position whose path no input covers any more is not deleted: it is
// parked, so that if the path comes back (a typo in the config and its fix)
// the file resumes where it was instead of being read again from 0. The first
// start without the path sends a Park event, whose Pos is the saved position
// with Pos.Parked set; commit it like the others. A position parked for
// Config.ParkFor (30 days) is dropped with a Gone at the next start, and so
// are those past the Config.ParkMax (1000) most recently parked. A path that
// comes back resumes whenever its position is still there; its next event
// clears Parked.
//
// Events of one key come in file order; a key's events never interleave two
// files. Where a position moves from one key to another (a rename within the
// inputs) the Header for the new key is sent before the Gone for the old one,
// so any committed prefix names the file under at least one key.
//
// # Identity
//
// A file is (device, inode, SHA-256 of its first min(size, 1024) bytes, and
// that length), never its path. Inodes are reused, so the fingerprint must
// match too; a file shorter than 1024 bytes has a shorter fingerprint that
// grows with it, and a saved position is compared over the length it saved.
// Compressed files are fingerprinted on their decompressed bytes and their
// offsets count decompressed bytes.
//
// # Offsets
//
// The offset only moves past complete lines. A partial last line waits for
// its newline; a line over MaxLine is skipped up to its newline and reported as
// TooLong, holding at most MaxLine bytes. Bytes pass through as they are.
//
// # Rotation and truncation
//
// Files are watched by polling: every PollInterval the inputs are expanded and
// every followed file is compared with what its path names now
// (Config.Trigger replaces the timer, for tests).
//
//   - Rename (logrotate create, or PowerMTA moving its file): the descriptor
//     stays open and the old file is read to its end, and until it has been
//     quiet for a poll, before the new file at the path is read from 0. A file
//     renamed to another path the inputs match keeps its descriptor and offset
//     under the new key.
//   - Truncation (copytruncate): a file shorter than what was read from it,
//     or whose first bytes changed (truncated and regrown between two polls,
//     whatever the speed), was truncated. The lines between our offset and the
//     truncation are in the copy: it is found next to the file by fingerprint
//     (name.1, name-YYYYMMDD, ..., also .gz) and finished first, then the file
//     is read from 0. The first bytes are also checked after every read, so
//     regrown content is never taken for the old file's, even between polls.
//     Bytes written between the copy and the truncation are lost by the
//     rotator itself and cannot be recovered.
//   - While stopped: Restart.Decide, a pure function, chooses per saved
//     position to resume the file at the path, to finish the saved file
//     found under a rotated name (plain or .gz, by inode and fingerprint)
//     and then read the path from 0, or, when the saved file is nowhere, to
//     start at 0 and count it in Stats.LostFiles; which rotated files to read
//     whole on the way; and, for a path no longer in the inputs, to park or
//     drop its position. A stale offset is never applied to another file.
//   - Generations in between: after finishing a rotated file, the rotated
//     files last modified after it (and not open here) are read whole,
//     oldest first, before the path's file. They were rotated away before
//     anything of them was read, during a stop (rotated twice over a
//     weekend) or twice within a few polls, and none of them was counted:
//     the key's position would name it. Their order is their modification
//     time, so a file rotated within the same clock tick (a few ms) as the
//     one before it would be missed. Only rotated names count (a digit in
//     what the name adds: maillog.1, mail.log-20240101, not mail.err), and
//     never a watched file, one a saved position names, or one the file at
//     the path still starts with (a copy whose truncation is yet to come).
//   - A file last seen empty: its empty fingerprint matches any content, so
//     a copytruncate of what it got since cannot be told from the file. The
//     rotated files modified after Pos.EmptySince are its copies: on start,
//     and at a poll that finds the file written to while nothing of it had
//     been read, they are read whole, oldest first, before the file itself
//     is read from 0. If there is none and the file is empty again, what it
//     got is lost and counted in Stats.LostFiles.
//
// Rotated names are looked up next to the file only: name.*, name-*, and for
// name.ext also stem-*, stem.* (the newest 64). Globs skip compressed names.
//
// What cannot be told: files deleted before they are seen; a file known only
// by a partial first line when it was last seen or committed, whose next
// lines start with the same bytes, if it is copied and truncated, or
// compressed into a new file, before a line of it is read or committed (the
// inode and those few bytes are all there is to go by); a copy of a file
// last seen empty that was made within the same file-clock tick (a few ms)
// as the moment it was seen empty; a file last seen empty whose copy is gone
// and that got more lines after its truncation (nothing says lines were
// lost, so nothing is counted lost); and positions saved before
// EmptySince existed, whose empty files are resumed as before.
//
// # Why not nxadm/tail
//
// nxadm/tail was meant to follow the current file. It is not used here
// (only by the best-effort live view, pkg/livetail, which wraps the exits),
// because its problems are in that part too (v1.4.11):
//
//   - Memory is not bounded. readLine uses bufio.Reader.ReadString, and
//     CompleteLines adds a strings.Builder. Both grow without limit on a line
//     with no newline. MaxLineSize splits a line only after reading all of it.
//   - The polling and inotify watchers call util.Fatal (os.Exit) when a stat
//     fails with anything other than not-exist, for example EACCES during a
//     rotation.
//   - The poll interval is a package global (watch.POLL_DURATION), so two
//     tailers cannot have different ones and tests cannot set it safely.
//   - It finds truncations by size alone (prevSize > size), so a truncate and
//     regrow between two looks goes unseen (nxadm/tail#62). When it does see
//     a truncation, it reopens the path itself, even with ReOpen off. It drops
//     the partial line and any old bytes it had not read yet, and it does not
//     look for the copy.
//
// So we would need our own reader anyway to finish rotated, copied and
// compressed files with the same line rules. That reader is also all it takes
// to follow the current file: an os.File, a bufio.Reader with capped lines,
// and stat polling in one goroutine. Vector, Filebeat and Fluent Bit do the
// same. The descriptor's own read position is used to check for truncation;
// nothing like Tell() is used.
//
// # Goroutines and backpressure
//
// Run reads all files in one goroutine and sends Batches of up to 256
// events on a channel; a slow consumer blocks it and nothing is dropped (the
// files are the buffer). A batch goes when it is full and when the files
// have been read to their ends (Idle: a good moment for the caller to
// commit). Line texts live in blocks owned by their batch; a caller that is
// done with a batch (and kept no text) gives it back with Release, so
// catching up allocates almost nothing per line. Run starts no other
// goroutine, except one for stdin, whose lines have no position.
package tailer
