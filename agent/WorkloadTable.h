#pragma once
// The text tables of `cgwarden ps` and `cgwarden top`, from the API's workload JSON
// (GET /api/v1/workloads, see ControlApi.h). Pure: JSON in, text out, so tests feed it
// hand-written JSON.
//
//   NAME  STATE    PID   CPU    MEM/LIMIT      PIDS  RESTARTS  UPTIME
//   web   running  4242  12.5%  24.1Mi / 64Mi  3     0         5m12s

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace cgwarden::agent {

struct TextTable {
  std::vector<std::string> header;
  std::vector<bool> rightAligned;  // per column; missing = left
  std::vector<std::vector<std::string>> rows;

  // Columns separated by two spaces, padded to the widest cell; each line cut to
  // `maxWidth` characters when it is not 0. Ends with a newline.
  std::string render(size_t maxWidth = 0) const;
};

// `ps`: NAME STATE PID CPU MEM/LIMIT PIDS RESTARTS UPTIME, in the API's order (by name).
TextTable psTable(const nlohmann::json& workloads);

enum class TopSort { Cpu, Memory, Name };
// `top`: NAME STATE CPU% MEM MEM% LIMIT IO-R/s IO-W/s PIDS RESTARTS, sorted (CPU and memory
// descending, unknown values last; ties by name).
TextTable topTable(const nlohmann::json& workloads, TopSort sort);

// Cells, for tests: "12.5%" or "-"; "24.1Mi / 64Mi"; "5m12s" or "-".
std::string cpuCell(const nlohmann::json& workload);
std::string memoryCell(const nlohmann::json& workload);
std::string stateCell(const nlohmann::json& workload);

}  // namespace cgwarden::agent
