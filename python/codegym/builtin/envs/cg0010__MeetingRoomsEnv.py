import gymnasium
import ast
import json
import heapq


def _require_int(value, name):
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"parameter '{name}' must be an integer")
    return value


class MeetingRoomsEnv(gymnasium.Env):
    """Find the minimum number of rooms needed to hold all meetings, where a meeting [start, end]
    occupies the half-open time range [start, end): a meeting ending at t and another starting at t
    can share a room. Observe shows the meetings; use SortByStart and the room-heap tools
    (GetEarliestEnd, FreeEarliestRoom, BookRoom, GetRoomCount) and submit the number of rooms as an
    integer with Done (0 if there are no meetings)."""
    def __init__(self, env_str: str = None):
        super().__init__()
        self.OBSERVE = 0
        self.SORT_BY_START = 1
        self.GET_EARLIEST_END = 2
        self.FREE_EARLIEST_ROOM = 3
        self.BOOK_ROOM = 4
        self.GET_ROOM_COUNT = 5
        self.DONE = 6
        self.func_mapping = {
            "Observe": self.OBSERVE,
            "SortByStart": self.SORT_BY_START,
            "GetEarliestEnd": self.GET_EARLIEST_END,
            "FreeEarliestRoom": self.FREE_EARLIEST_ROOM,
            "BookRoom": self.BOOK_ROOM,
            "GetRoomCount": self.GET_ROOM_COUNT,
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
        prefix = "MeetingRoomsEnv@"
        if not env_str.startswith(prefix):
            return None
        return MeetingRoomsEnv(env_str=env_str)

    def reset(self, options: dict = {}):
        if options is None:
            options = {}
        self.meetings = [list(m) for m in options.get("meetings", [])]
        # min-heap of end times of the rooms currently booked
        self.room_ends = []
        self._reward = 0
        self._done = False
        self.step_count = 0
        return "Environment has been reset."

    def get_ref_answer(self):
        """The reference answer computed directly from the task data."""
        ends = []
        for start, end in sorted(self.meetings):
            if ends and ends[0] <= start:
                heapq.heapreplace(ends, end)
            else:
                heapq.heappush(ends, end)
        return len(ends)

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
            elif action_code == self.SORT_BY_START:
                msg = self.SortByStart()
            elif action_code == self.GET_EARLIEST_END:
                msg = self.GetEarliestEnd()
            elif action_code == self.FREE_EARLIEST_ROOM:
                msg = self.FreeEarliestRoom()
            elif action_code == self.BOOK_ROOM:
                if "end" in params:
                    msg = self.BookRoom(params["end"])
                else:
                    msg = "Error: 'end' parameter is missing for BookRoom action."
            elif action_code == self.GET_ROOM_COUNT:
                msg = self.GetRoomCount()
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
        Return the meetings as half-open time ranges [start, end): a meeting ending at t
        and another starting at t can use the same room.

        Returns:
            str: JSON list of [start, end] pairs.

        Example Output:
            "[[0, 30], [5, 10], [15, 20]]"
        """
        return json.dumps(self.meetings)

    def SortByStart(self):
        r"""
        Return the meetings sorted by start time (ties broken by end time).

        Returns:
            str: JSON list of [start, end] pairs in sorted order.

        Example Output:
            "[[0, 30], [5, 10], [15, 20]]"
        """
        return json.dumps(sorted(self.meetings))

    def GetEarliestEnd(self):
        r"""
        Look at the booked room that becomes free first (top of the min-heap of end times).

        Returns:
            str: that room's end time, or "No rooms booked" if no room is booked.

        Example Output:
            "10"
        """
        if not self.room_ends:
            return "No rooms booked"
        return str(self.room_ends[0])

    def FreeEarliestRoom(self):
        r"""
        Release the booked room that becomes free first (pop the min-heap of end times).

        Returns:
            str: the end time of the released room.

        Example Output:
            "10"
        """
        if not self.room_ends:
            raise ValueError("no rooms are booked")
        return str(heapq.heappop(self.room_ends))

    def BookRoom(self, end):
        r"""
        Book a room until the given end time (push it onto the min-heap of end times).

        Args:
            end (int): the end time of the meeting occupying the room.

        Returns:
            str: the number of rooms booked now.

        Example Output:
            "2"
        """
        end = _require_int(end, "end")
        heapq.heappush(self.room_ends, end)
        return str(len(self.room_ends))

    def GetRoomCount(self):
        r"""
        Return the number of rooms currently booked.

        Returns:
            str: the number of booked rooms.

        Example Output:
            "2"
        """
        return str(len(self.room_ends))

    def Done(self, answer):
        r"""
        Submit the final answer and end the episode.

        Args:
            answer (int): the minimum number of meeting rooms needed.

        Returns:
            str: whether the answer is correct, with the reference answer.

        Example Output:
            "Your answer: 2, reference answer: 2, result: correct, reward=1"
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
        ordered = json.loads(self.step(json.dumps({"name": "SortByStart", "parameters": {}}))[1])
        for start, end in ordered:
            earliest = self.step(json.dumps({"name": "GetEarliestEnd", "parameters": {}}))[1]
            if earliest != "No rooms booked" and int(earliest) <= start:
                self.step(json.dumps({"name": "FreeEarliestRoom", "parameters": {}}))
            self.step(json.dumps({"name": "BookRoom", "parameters": {"end": end}}))
        rooms = int(self.step(json.dumps({"name": "GetRoomCount", "parameters": {}}))[1])
        return self.step(json.dumps({"name": "Done", "parameters": {"answer": rooms}}))[1]


if __name__ == "__main__":
    env = MeetingRoomsEnv.from_env_str('MeetingRoomsEnv@{"meetings": [[0, 30], [5, 10], [15, 20]]}')
    print(env.solve())
    print("step count:", env.step_count)
    env = MeetingRoomsEnv.from_env_str('MeetingRoomsEnv@{"meetings": [[7, 10], [2, 4]]}')
    print(env.solve())
    print("step count:", env.step_count)
