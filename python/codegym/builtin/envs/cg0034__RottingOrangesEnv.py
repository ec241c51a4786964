import gymnasium
import ast
import json
from collections import deque


def _require_int(value, name):
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"parameter '{name}' must be an integer")
    return value


class RottingOrangesEnv(gymnasium.Env):
    """Find how many minutes pass until no fresh orange is left in a grid (0 = empty, 1 = fresh, 2
    = rotten), where every minute each fresh orange next to a rotten one (up, down, left or right)
    becomes rotten. Observe shows the grid; simulate with AdvanceMinute, CountFresh and GetCell and
    submit the number of minutes as an integer with Done: 0 if no fresh orange exists at the start,
    -1 if some fresh orange can never rot."""
    def __init__(self, env_str: str = None):
        super().__init__()
        self.OBSERVE = 0
        self.COUNT_FRESH = 1
        self.ADVANCE_MINUTE = 2
        self.GET_CELL = 3
        self.DONE = 4
        self.func_mapping = {
            "Observe": self.OBSERVE,
            "CountFresh": self.COUNT_FRESH,
            "AdvanceMinute": self.ADVANCE_MINUTE,
            "GetCell": self.GET_CELL,
            "Done": self.DONE,
        }
        if env_str is not None:
            options = ast.literal_eval(env_str.split("@", 1)[1])
            self.reset(options)
        else:
            self.reset()

    @property
    def finished(self) -> bool:
        return self._done

    @property
    def reward(self):
        return float(self._reward)

    @staticmethod
    def from_env_str(env_str: str):
        prefix = "RottingOrangesEnv@"
        if not env_str.startswith(prefix):
            return None
        return RottingOrangesEnv(env_str=env_str)

    def reset(self, options: dict = {}):
        if options is None:
            options = {}
        # grid: list of rows; 0 = empty cell, 1 = fresh orange, 2 = rotten orange
        self.grid = [list(row) for row in options.get("grid", [])]
        self.rows = len(self.grid)
        self.cols = len(self.grid[0]) if self.rows else 0
        # working copy changed by AdvanceMinute
        self.state = [list(row) for row in self.grid]
        self.minute = 0
        self._reward = 0
        self._done = False
        self.step_count = 0
        return "Environment has been reset."

    def get_ref_answer(self):
        """The reference answer computed directly from the task data (multi-source BFS)."""
        rot_time = [[-1] * self.cols for _ in range(self.rows)]
        queue = deque()
        for r in range(self.rows):
            for c in range(self.cols):
                if self.grid[r][c] == 2:
                    rot_time[r][c] = 0
                    queue.append((r, c))
        while queue:
            r, c = queue.popleft()
            for dr, dc in ((-1, 0), (1, 0), (0, -1), (0, 1)):
                nr, nc = r + dr, c + dc
                if 0 <= nr < self.rows and 0 <= nc < self.cols and self.grid[nr][nc] == 1 and rot_time[nr][nc] == -1:
                    rot_time[nr][nc] = rot_time[r][c] + 1
                    queue.append((nr, nc))
        answer = 0
        for r in range(self.rows):
            for c in range(self.cols):
                if self.grid[r][c] == 1:
                    if rot_time[r][c] == -1:
                        return -1
                    answer = max(answer, rot_time[r][c])
        return answer

    def step(self, action: str):
        self.step_count += 1
        try:
            try:
                call_dict = json.loads(action)
            except (TypeError, ValueError):
                raise ValueError("action is not a valid JSON string")
            if not isinstance(call_dict, dict):
                raise ValueError("action must be a JSON object")
            if "name" not in call_dict:
                raise ValueError("function call doesn't have `name`")
            if "parameters" not in call_dict:
                raise ValueError("function call doesn't have `parameters`")
            action_name = call_dict["name"]
            params = call_dict["parameters"]
            if not isinstance(action_name, str) or action_name not in self.func_mapping:
                raise ValueError(f"Invalid action: {action_name}")
            if not isinstance(params, dict):
                raise ValueError("`parameters` must be a JSON object")
            action_code = self.func_mapping[action_name]

            if action_code == self.OBSERVE:
                msg = self.Observe()
            elif action_code == self.COUNT_FRESH:
                msg = self.CountFresh()
            elif action_code == self.ADVANCE_MINUTE:
                msg = self.AdvanceMinute()
            elif action_code == self.GET_CELL:
                if "row" in params and "col" in params:
                    msg = self.GetCell(params["row"], params["col"])
                else:
                    msg = "Error: 'row' or 'col' parameter is missing for GetCell action."
            elif action_code == self.DONE:
                if "answer" in params:
                    msg = self.Done(params["answer"])
                else:
                    msg = "Error: 'answer' parameter is missing for Done action."
            else:
                msg = f"Error: Invalid action: {action_name}"
        except Exception as e:
            msg = f"Error: {str(e)}"
        return True, msg

    def _fresh_count(self):
        return sum(row.count(1) for row in self.state)

    # --- tools ---
    def Observe(self):
        r"""
        Return the initial grid: 0 = empty cell, 1 = fresh orange, 2 = rotten orange. Every
        minute, each fresh orange next to a rotten one (up, down, left, right) becomes rotten.
        The number of minutes until no fresh orange is left is wanted (-1 if that never happens).

        Returns:
            str: JSON object with keys "rows", "cols" and "grid" (list of rows).

        Example Output:
            "{\"rows\": 2, \"cols\": 3, \"grid\": [[2, 1, 1], [0, 1, 1]]}"
        """
        return json.dumps({"rows": self.rows, "cols": self.cols, "grid": self.grid})

    def CountFresh(self):
        r"""
        Return how many fresh oranges the simulated grid currently holds.

        Returns:
            str: the count as an integer.

        Example Output:
            "4"
        """
        return str(self._fresh_count())

    def AdvanceMinute(self):
        r"""
        Simulate one minute on the working grid: every fresh orange adjacent to an orange that
        was rotten at the start of the minute becomes rotten.

        Returns:
            str: JSON object with "minute" (minutes simulated so far), "newly_rotten"
            (oranges that rotted during this minute) and "fresh" (fresh oranges left).

        Example Output:
            "{\"minute\": 1, \"newly_rotten\": 2, \"fresh\": 2}"
        """
        to_rot = []
        for r in range(self.rows):
            for c in range(self.cols):
                if self.state[r][c] != 1:
                    continue
                for dr, dc in ((-1, 0), (1, 0), (0, -1), (0, 1)):
                    nr, nc = r + dr, c + dc
                    if 0 <= nr < self.rows and 0 <= nc < self.cols and self.state[nr][nc] == 2:
                        to_rot.append((r, c))
                        break
        for r, c in to_rot:
            self.state[r][c] = 2
        self.minute += 1
        return json.dumps({"minute": self.minute, "newly_rotten": len(to_rot), "fresh": self._fresh_count()})

    def GetCell(self, row, col):
        r"""
        Return the current state of one cell of the simulated grid.

        Args:
            row (int): row index, 0..rows-1.
            col (int): column index, 0..cols-1.

        Returns:
            str: 0 (empty), 1 (fresh) or 2 (rotten).

        Example Output:
            "2"
        """
        row = _require_int(row, "row")
        col = _require_int(col, "col")
        if row < 0 or row >= self.rows:
            raise ValueError(f"row {row} out of range 0..{self.rows - 1}")
        if col < 0 or col >= self.cols:
            raise ValueError(f"col {col} out of range 0..{self.cols - 1}")
        return str(self.state[row][col])

    def Done(self, answer):
        r"""
        Submit the final answer and end the episode.

        Args:
            answer (int): minutes until no fresh orange is left, or -1 if impossible.

        Returns:
            str: whether the answer is correct, with the reference answer.

        Example Output:
            "Your answer: 4, reference answer: 4, result: correct, reward=1"
        """
        answer = _require_int(answer, "answer")
        ref_answer = self.get_ref_answer()
        correct = answer == ref_answer
        self._reward = 1 if correct else 0
        self._done = True
        msg = f"Your answer: {answer}, reference answer: {ref_answer}"
        return msg + f", result: {'correct' if correct else 'incorrect'}, reward={self._reward}"

    def solve(self):
        r"""Solve the task using only the tools (through self.step with JSON actions) and submit."""
        self.step(json.dumps({"name": "Observe", "parameters": {}}))
        fresh = int(self.step(json.dumps({"name": "CountFresh", "parameters": {}}))[1])
        minutes = 0
        while fresh > 0:
            result = json.loads(self.step(json.dumps({"name": "AdvanceMinute", "parameters": {}}))[1])
            if result["newly_rotten"] == 0:
                minutes = -1
                break
            minutes = result["minute"]
            fresh = result["fresh"]
        return self.step(json.dumps({"name": "Done", "parameters": {"answer": minutes}}))[1]


if __name__ == "__main__":
    env = RottingOrangesEnv.from_env_str('RottingOrangesEnv@{"grid": [[2, 1, 1], [1, 1, 0], [0, 1, 1]]}')
    print(env.solve())
    print("step count:", env.step_count)
    env = RottingOrangesEnv.from_env_str('RottingOrangesEnv@{"grid": [[2, 1, 1], [0, 1, 1], [1, 0, 1]]}')
    print(env.solve())
    print("step count:", env.step_count)
