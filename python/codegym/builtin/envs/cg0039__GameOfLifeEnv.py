import gymnasium
import ast
import json


def _require_int(value, name):
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"parameter '{name}' must be an integer")
    return value


def _next_row(grid, r):
    """Row r of the next generation of a bounded grid of '#' (alive) / '.' (dead) strings."""
    rows = len(grid)
    cols = len(grid[0]) if rows else 0
    out = []
    for c in range(cols):
        alive = 0
        for dr in (-1, 0, 1):
            for dc in (-1, 0, 1):
                if dr == 0 and dc == 0:
                    continue
                nr, nc = r + dr, c + dc
                if 0 <= nr < rows and 0 <= nc < cols and grid[nr][nc] == "#":
                    alive += 1
        if grid[r][c] == "#":
            out.append("#" if alive in (2, 3) else ".")
        else:
            out.append("#" if alive == 3 else ".")
    return "".join(out)


class GameOfLifeEnv(gymnasium.Env):
    """Run Conway's Game of Life for k generations on a bounded grid ('#' = live, '.' = dead; cells
    outside the grid are always dead) and count the live cells at the end. A live cell with 2 or 3
    live neighbours (of its 8) survives, a dead cell with exactly 3 becomes live, and every other
    cell is dead in the next generation. Observe shows the grid and k; advance with ComputeNextRow
    and CommitGeneration (GetCurrentGrid and CountLive show the state) and submit the live-cell
    count as an integer with Done (k = 0 means the initial grid)."""
    def __init__(self, env_str: str = None):
        super().__init__()
        self.OBSERVE = 0
        self.COMPUTE_NEXT_ROW = 1
        self.COMMIT_GENERATION = 2
        self.GET_CURRENT_GRID = 3
        self.COUNT_LIVE = 4
        self.DONE = 5
        self.func_mapping = {
            "Observe": self.OBSERVE,
            "ComputeNextRow": self.COMPUTE_NEXT_ROW,
            "CommitGeneration": self.COMMIT_GENERATION,
            "GetCurrentGrid": self.GET_CURRENT_GRID,
            "CountLive": self.COUNT_LIVE,
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
        prefix = "GameOfLifeEnv@"
        if not env_str.startswith(prefix):
            return None
        return GameOfLifeEnv(env_str=env_str)

    def reset(self, options: dict = {}):
        if options is None:
            options = {}
        # grid: list of equally long strings, '#' = live cell, '.' = dead cell
        self.grid = [str(row) for row in options.get("grid", ["."])]
        self.k = int(options.get("k", 0))
        self.rows = len(self.grid)
        self.cols = len(self.grid[0]) if self.rows else 0
        self.current = list(self.grid)
        self.generation = 0
        # rows of the next generation computed so far: row index -> row string
        self.pending = {}
        self._reward = 0
        self._done = False
        self.step_count = 0
        return "Environment has been reset."

    def get_ref_answer(self):
        """The reference answer computed directly from the task data."""
        grid = list(self.grid)
        for _ in range(self.k):
            grid = [_next_row(grid, r) for r in range(self.rows)]
        return sum(row.count("#") for row in grid)

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
            elif action_code == self.COMPUTE_NEXT_ROW:
                if "row" in params:
                    msg = self.ComputeNextRow(params["row"])
                else:
                    msg = "Error: 'row' parameter is missing for ComputeNextRow action."
            elif action_code == self.COMMIT_GENERATION:
                msg = self.CommitGeneration()
            elif action_code == self.GET_CURRENT_GRID:
                msg = self.GetCurrentGrid()
            elif action_code == self.COUNT_LIVE:
                msg = self.CountLive()
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

    # --- tools ---
    def Observe(self):
        r"""
        Return the initial grid of Conway's Game of Life ('#' = live, '.' = dead), its size
        and the number of generations k. The grid is bounded: cells outside it are always
        dead. A live cell with 2 or 3 live neighbours (of 8) survives, a dead cell with
        exactly 3 becomes live, every other cell is dead in the next generation. The task is
        the number of live cells after k generations.

        Returns:
            str: JSON object with keys "rows", "cols", "k" and "grid" (list of row strings).

        Example Output:
            "{\"rows\": 3, \"cols\": 3, \"k\": 1, \"grid\": [\".#.\", \".#.\", \".#.\"]}"
        """
        return json.dumps({"rows": self.rows, "cols": self.cols, "k": self.k, "grid": self.grid})

    def ComputeNextRow(self, row):
        r"""
        Compute one row of the next generation from the current generation and keep it
        pending; the current generation is not changed until CommitGeneration.

        Args:
            row (int): row index, 0..rows-1.

        Returns:
            str: the next-generation row as a string of '#' and '.'.

        Example Output:
            "###"
        """
        row = _require_int(row, "row")
        if row < 0 or row >= self.rows:
            raise ValueError(f"row index {row} out of range 0..{self.rows - 1}")
        self.pending[row] = _next_row(self.current, row)
        return self.pending[row]

    def CommitGeneration(self):
        r"""
        Replace the current generation by the next one once every row of the next generation
        has been computed with ComputeNextRow; the generation counter goes up by one. At most
        k generations can be committed.

        Returns:
            str: JSON object with the new "generation" number and its "live" cell count.

        Example Output:
            "{\"generation\": 1, \"live\": 3}"
        """
        if self.generation >= self.k:
            raise ValueError(f"already at generation {self.generation} = k; no more generations are needed")
        missing = [r for r in range(self.rows) if r not in self.pending]
        if missing:
            raise ValueError(f"rows {missing} of the next generation have not been computed yet")
        self.current = [self.pending[r] for r in range(self.rows)]
        self.pending = {}
        self.generation += 1
        live = sum(row.count("#") for row in self.current)
        return json.dumps({"generation": self.generation, "live": live})

    def GetCurrentGrid(self):
        r"""
        Return the current generation number and grid.

        Returns:
            str: JSON object with keys "generation" and "grid" (list of row strings).

        Example Output:
            "{\"generation\": 1, \"grid\": [\"...\", \"###\", \"...\"]}"
        """
        return json.dumps({"generation": self.generation, "grid": self.current})

    def CountLive(self):
        r"""
        Count the live cells of the current generation.

        Returns:
            str: the number of live cells as an integer.

        Example Output:
            "3"
        """
        return str(sum(row.count("#") for row in self.current))

    def Done(self, answer):
        r"""
        Submit the final answer and end the episode.

        Args:
            answer (int): the number of live cells after k generations.

        Returns:
            str: whether the answer is correct, with the reference answer.

        Example Output:
            "Your answer: 3, reference answer: 3, result: correct, reward=1"
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
        task = json.loads(self.step(json.dumps({"name": "Observe", "parameters": {}}))[1])
        for _ in range(task["k"]):
            for r in range(task["rows"]):
                self.step(json.dumps({"name": "ComputeNextRow", "parameters": {"row": r}}))
            self.step(json.dumps({"name": "CommitGeneration", "parameters": {}}))
        live = int(self.step(json.dumps({"name": "CountLive", "parameters": {}}))[1])
        return self.step(json.dumps({"name": "Done", "parameters": {"answer": live}}))[1]


if __name__ == "__main__":
    env = GameOfLifeEnv.from_env_str('GameOfLifeEnv@{"grid": [".#.", ".#.", ".#."], "k": 1}')
    print(env.solve())
    print("step count:", env.step_count)
    env = GameOfLifeEnv.from_env_str(
        'GameOfLifeEnv@{"grid": [".#....", "..#...", "###...", "......", "......", "......"], "k": 4}'
    )
    print(env.solve())
    print("step count:", env.step_count)
