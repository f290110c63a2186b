// atomic_write_file: the bytes go to "<path>.tmp.<pid>" in the same folder, are fsynced, then
// renamed over <path> and the folder is fsynced. Any failure removes the temp file and throws
// Error(Io, "<path>: cannot write: <reason>"); the old file at <path> is never touched before the
// rename, so a crash, a full disk or a read-only folder leaves it as it was. A process killed
// while writing leaves its temp file; the next successful write of the same path removes the
// temp files of writers that no longer run (docs/robustness.md, kill -9 during autosave).
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "rwkv/error.h"
#include "rwkv/state_file.h"

namespace rwkv {
namespace {

[[noreturn]] void fail(const std::string& path, int err, const std::string& detail = "") {
  throw Error(ErrorKind::Io, path + ": cannot write: " + std::strerror(err) + detail);
}

std::string folder_of(const std::string& path) {
  const auto slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

// Writes all of `bytes` to fd; returns 0 or the errno of the failing write.
int write_all(int fd, const std::string& bytes) {
  const char* p = bytes.data();
  size_t left = bytes.size();
  while (left > 0) {
    const ssize_t n = ::write(fd, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    if (n == 0) return ENOSPC;  // no progress: treat as a full disk
    p += n;
    left -= static_cast<size_t>(n);
  }
  return 0;
}

// Keeps the permission bits of the file being replaced (new files get 0666 minus the umask).
mode_t mode_for(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode)) return st.st_mode & 07777;
  return 0666;
}

// Removes "<name>.tmp.<pid>" beside path when no process <pid> exists: the leftover of a writer
// killed between creating its temp file and the rename. Live writers' files, links, folders and
// other names are left alone. Best effort: errors are ignored.
void remove_stale_temps(const std::string& path) {
  const std::string folder = folder_of(path);
  const auto slash = path.find_last_of('/');
  const std::string prefix = (slash == std::string::npos ? path : path.substr(slash + 1)) + ".tmp.";
  DIR* dir = ::opendir(folder.c_str());
  if (!dir) return;
  while (const dirent* e = ::readdir(dir)) {
    const std::string name = e->d_name;
    if (name.size() <= prefix.size() || name.compare(0, prefix.size(), prefix) != 0) continue;
    const std::string digits = name.substr(prefix.size());
    if (digits.size() > 9 || digits.find_first_not_of("0123456789") != std::string::npos) continue;
    const pid_t pid = static_cast<pid_t>(std::stol(digits));
    if (pid <= 0 || pid == ::getpid() || ::kill(pid, 0) == 0 || errno != ESRCH) continue;
    const std::string full = folder + "/" + name;
    struct stat st;
    if (::lstat(full.c_str(), &st) == 0 && S_ISREG(st.st_mode)) ::unlink(full.c_str());
  }
  ::closedir(dir);
}

}  // namespace

void atomic_write_file(const std::string& path, const std::string& bytes) {
  if (path.empty()) throw Error(ErrorKind::Argument, "atomic_write_file: empty path");
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());

  const mode_t mode = mode_for(path);
  // O_TRUNC: a temp file left by a crashed process with the same pid is overwritten; O_NOFOLLOW:
  // never write through a link planted at the temp name.
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, mode);
  if (fd < 0) fail(path, errno);
  if (mode != 0666) ::fchmod(fd, mode);  // O_CREAT applied the umask; restore the old file's bits

  int err = write_all(fd, bytes);
  if (err == 0 && ::fsync(fd) != 0) err = errno;
  if (::close(fd) != 0 && err == 0) err = errno;
  if (err == 0 && ::rename(tmp.c_str(), path.c_str()) != 0) err = errno;
  if (err != 0) {
    ::unlink(tmp.c_str());
    fail(path, err);
  }

  // Make the rename itself durable. Some file systems cannot fsync a folder (EINVAL): the data
  // is then as durable as that file system allows, which is not an error of ours.
  const int dfd = ::open(folder_of(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    const int rc = ::fsync(dfd);
    const int derr = errno;
    ::close(dfd);
    if (rc != 0 && derr != EINVAL && derr != EROFS) fail(path, derr, " (fsync of the folder after the rename)");
  }
  remove_stale_temps(path);
}

}  // namespace rwkv
